import type {
	AgentLimits,
	AgentTool,
	CreateAgentInput,
	ProviderKind,
	UpdateAgentInput
} from '../../schemas/agents.ts';
import * as agents from '../db/agents.ts';
import * as credentials from '../db/credentials.ts';
import * as customTools from '../db/custom-tools.ts';
import { violatedConstraint } from '../db/errors.ts';
import type { Db } from '../db/index.ts';
import * as providers from '../db/model-providers.ts';
import type { Agent, ModelProvider } from '../db/schema/index.ts';
import * as workflows from '../db/workflows.ts';
import { ServiceError, notFound } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import { audited } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { authorizeWorkspace } from './workspaces.ts';

/** A saved agent as the API and the pages show it, with the provider it calls. */
export type AgentView = {
	id: string;
	name: string;
	description: string;
	instructions: string;
	provider: { id: string; name: string; kind: ProviderKind };
	/** Null: the provider's default model. */
	model: string | null;
	temperature: number | null;
	tools: AgentTool[];
	limits: AgentLimits;
	outputSchema: Record<string, unknown> | null;
	createdAt: Date;
	updatedAt: Date;
};

function toView(row: Agent, provider: Pick<ModelProvider, 'id' | 'name' | 'kind'>): AgentView {
	const { id, name, description, instructions, model, temperature, tools, limits } = row;
	return {
		id,
		name,
		description,
		instructions,
		provider: { id: provider.id, name: provider.name, kind: provider.kind },
		model,
		temperature,
		tools,
		limits,
		outputSchema: row.outputSchema,
		createdAt: row.createdAt,
		updatedAt: row.updatedAt
	};
}

async function uniqueName<T>(work: Promise<T>): Promise<T> {
	try {
		return await work;
	} catch (error) {
		if (violatedConstraint(error, '23505') === agents.nameIndex)
			throw new ServiceError('conflict', 'This workspace already has an agent with that name.', {
				fields: { name: 'Already taken.' }
			});
		throw error;
	}
}

async function checkProvider(db: Db, workspaceId: string, providerId: string) {
	const provider = await providers.get(db, workspaceId, providerId);
	if (provider === null)
		throw new ServiceError('invalid', 'The agent is not valid.', {
			fields: { providerId: 'No model provider with this id in this workspace.' }
		});
	return provider;
}

/** What identifies a tool in the list, to refuse one listed twice. */
function toolKey(tool: AgentTool): string {
	if (tool.type === 'builtin') return `builtin:${tool.name}`;
	return tool.type === 'custom' ? `custom:${tool.toolId}` : `workflow:${tool.workflowId}`;
}

/**
 * Every tool names something of this workspace: a custom tool, a workflow with a published version,
 * credentials for `http_request`. Each problem is reported under its path (`tools.2.toolId`).
 */
async function checkTools(db: Db, workspaceId: string, tools: AgentTool[]): Promise<void> {
	const fields: Record<string, string> = {};
	const seen = new Set<string>();
	for (const [index, tool] of tools.entries()) {
		const key = toolKey(tool);
		if (seen.has(key)) fields[`tools.${index}`] = 'This tool is listed twice.';
		seen.add(key);
		if (tool.type === 'custom') {
			if ((await customTools.get(db, workspaceId, tool.toolId)) === null)
				fields[`tools.${index}.toolId`] = 'No custom tool with this id in this workspace.';
		} else if (tool.type === 'workflow') {
			const workflow = await workflows.get(db, workspaceId, tool.workflowId);
			if (workflow === null)
				fields[`tools.${index}.workflowId`] = 'No workflow with this id in this workspace.';
			else if (workflow.publishedVersionId === null)
				fields[`tools.${index}.workflowId`] = `“${workflow.name}” has no published version.`;
		} else {
			if (tool.name !== 'http_request' && tool.credentials.length > 0)
				fields[`tools.${index}.credentials`] = 'Only http_request adds credentials to requests.';
			for (const [position, mapping] of tool.credentials.entries())
				if ((await credentials.get(db, workspaceId, mapping.credentialId)) === null)
					fields[`tools.${index}.credentials.${position}.credentialId`] =
						'No credential with this id in this workspace.';
		}
	}
	if (Object.keys(fields).length > 0)
		throw new ServiceError('invalid', 'The agent is not valid.', { fields });
}

async function loadAgent(db: Db, workspaceId: string, agentId: string) {
	const found = isUuid(agentId) ? await agents.getWithProvider(db, workspaceId, agentId) : null;
	if (found === null) throw notFound('Agent not found.');
	return found;
}

export async function listAgents(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
): Promise<AgentView[]> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'agents.read');
	return (await agents.list(ctx.db, workspaceId)).map((row) =>
		toView(row, { id: row.providerId, name: row.providerName, kind: row.providerKind })
	);
}

export async function getAgent(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	agentId: string
): Promise<AgentView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'agents.read');
	const { agent, provider } = await loadAgent(ctx.db, workspaceId, agentId);
	return toView(agent, provider);
}

export async function createAgent(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: CreateAgentInput,
	meta: RequestMeta
): Promise<AgentView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'agents.manage');
	const provider = await checkProvider(ctx.db, workspaceId, input.providerId);
	await checkTools(ctx.db, workspaceId, input.tools);
	const created = await uniqueName(
		audited(
			ctx.db,
			meta,
			(tx) => agents.create(tx, { ...input, workspaceId, createdBy: principal.user.id }),
			(row) => ({
				action: 'agent.create',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'agent', id: row.id },
				details: { name: row.name, providerId: row.providerId, tools: row.tools.map(toolKey) }
			})
		)
	);
	return toView(created, provider);
}

/** Changes what the patch gives; a new provider or tool list is checked as on create. */
export async function updateAgent(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	agentId: string,
	patch: UpdateAgentInput,
	meta: RequestMeta
): Promise<AgentView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'agents.manage');
	const current = await loadAgent(ctx.db, workspaceId, agentId);
	const values = Object.fromEntries(
		Object.entries(patch).filter(([, value]) => value !== undefined)
	) as UpdateAgentInput;
	const provider =
		values.providerId === undefined
			? current.provider
			: await checkProvider(ctx.db, workspaceId, values.providerId);
	if (values.tools !== undefined) await checkTools(ctx.db, workspaceId, values.tools);
	// The audit log names what changed, never the instructions themselves.
	const changed = Object.keys(values).filter(
		(field) =>
			JSON.stringify(values[field as keyof UpdateAgentInput]) !==
			JSON.stringify(current.agent[field as keyof UpdateAgentInput])
	);
	const updated = await uniqueName(
		audited(
			ctx.db,
			meta,
			async (tx) => {
				const row = await agents.update(tx, workspaceId, current.agent.id, {
					...values,
					updatedAt: ctx.now()
				});
				if (row === null) throw notFound('Agent not found.');
				return row;
			},
			(row) => ({
				action: 'agent.update',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'agent', id: row.id },
				details: { name: row.name, changed }
			})
		)
	);
	return toView(updated, provider);
}

export async function deleteAgent(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	agentId: string,
	meta: RequestMeta
): Promise<void> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'agents.manage');
	const { agent } = await loadAgent(ctx.db, workspaceId, agentId);
	await audited(
		ctx.db,
		meta,
		async (tx) => {
			if ((await agents.remove(tx, workspaceId, agent.id)) === null)
				throw notFound('Agent not found.');
		},
		{
			action: 'agent.delete',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'agent', id: agent.id },
			details: { name: agent.name }
		}
	);
}
