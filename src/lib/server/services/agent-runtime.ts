import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AgentTool } from '../../schemas/agents.ts';
import { defaultRequiresApproval } from '../../schemas/tools.ts';
import { runInputSchema, workflowDefinitionSchema } from '../../schemas/workflow.ts';
import {
	createAgentKinds,
	type AgentDeps,
	type ResolvedTool,
	type SavedAgentSpec,
	type ToolCallContext
} from '../agents/agent-kinds.ts';
import { createLlmKind } from '../agents/llm-kind.ts';
import type { AnyNodeKind } from '../engine/kinds/types.ts';
import { createGuardedFetch } from '../outbound/guarded-fetch.ts';
import type { GuardedHttp } from '../outbound/guarded-http.ts';
import { createModelOpener } from './model-turns.ts';
import { applyCredential, credentialSecrets } from '../credentials/apply.ts';
import * as agents from '../db/agents.ts';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import { StepFailure } from '../engine/kinds/types.ts';
import { isUuid } from '../ids.ts';
import type { CredentialLookup } from '../tools/tooling.ts';
import { ToolError, type Tool } from '../tools/registry.ts';
import { roleMay } from '../policy.ts';
import type { ServiceContext } from './context.ts';
import { workspaceCustomTool } from './tools.ts';

// The host side of agents: what an agent step may use, resolved from the workspace's records, and
// each tool call authorized as the run's owner at the moment it runs. Credentials are applied here
// to requests for their host, so a secret never enters the model's context.

export type AgentRuntimeContext = Pick<ServiceContext, 'db' | 'logger' | 'tools'> & {
	lookupCredential: CredentialLookup;
};

const refused = (message: string) =>
	new StepFailure('tool_unavailable', message, { retryable: false });

/** A tool-safe name (what providers accept) for a workflow's name. */
export function toolNameFor(name: string): string {
	const cleaned = name
		.normalize('NFKD')
		.replace(/[^a-zA-Z0-9_-]+/g, '_')
		.replace(/^[^a-zA-Z]+/, '')
		.slice(0, 64);
	return cleaned === '' ? 'workflow' : cleaned;
}

async function loadAgent(
	db: Db,
	workspaceId: string,
	agentId: string
): Promise<SavedAgentSpec | null> {
	const row = isUuid(agentId) ? await agents.get(db, workspaceId, agentId) : null;
	if (row === null) return null;
	const { providerId, model, instructions, temperature, tools, limits, outputSchema } = row;
	return { providerId, model, instructions, temperature, tools, limits, outputSchema };
}

/** The runnable tool a built-in or custom reference names, or null when it is gone. */
async function toolFor(
	ctx: AgentRuntimeContext,
	workspaceId: string,
	ref: Exclude<AgentTool, { type: 'workflow' }>
): Promise<Tool | null> {
	if (ref.type === 'builtin') return ctx.tools.registry.get(ref.name) ?? null;
	return workspaceCustomTool(ctx, workspaceId, ref.toolId);
}

async function resolveWorkflowTool(
	db: Db,
	workspaceId: string,
	ref: Extract<AgentTool, { type: 'workflow' }>
): Promise<ResolvedTool> {
	const result = await db.execute(sql`
		select w.name, w.description, v.definition from workflows w
		join workflow_versions v on v.id = w.published_version_id
		where w.id = ${ref.workflowId} and w.workspace_id = ${workspaceId}
	`);
	const row = rows<{ name: string; description: string; definition: unknown }>(result)[0];
	if (!row)
		throw refused('A workflow the agent uses as a tool is gone or has no published version.');
	const { inputs } = workflowDefinitionSchema.parse(row.definition);
	const inputSchema = z.toJSONSchema(runInputSchema(inputs), { io: 'input' }) as Record<
		string,
		unknown
	>;
	delete inputSchema.$schema;
	return {
		name: ref.name ?? toolNameFor(row.name),
		description: ref.description ?? (row.description || `Runs the workflow “${row.name}”.`),
		inputSchema,
		requiresApproval: ref.requiresApproval ?? false,
		ref
	};
}

async function resolveTools(
	ctx: AgentRuntimeContext,
	workspaceId: string,
	refs: AgentTool[]
): Promise<ResolvedTool[]> {
	const resolved: ResolvedTool[] = [];
	for (const ref of refs) {
		if (ref.type === 'workflow') {
			resolved.push(await resolveWorkflowTool(ctx.db, workspaceId, ref));
			continue;
		}
		const tool = await toolFor(ctx, workspaceId, ref);
		if (tool === null) throw refused('A tool the agent uses no longer exists.');
		const requiresApproval =
			ref.type === 'builtin'
				? (ref.requiresApproval ?? defaultRequiresApproval(tool.risk))
				: tool.requiresApproval;
		const { description, inputSchema } = tool;
		resolved.push({ name: tool.name, description, inputSchema, requiresApproval, ref });
	}
	const seen = new Set<string>();
	for (const tool of resolved) {
		if (seen.has(tool.name)) throw refused(`Two of the agent's tools are named “${tool.name}”.`);
		seen.add(tool.name);
	}
	return resolved;
}

/** Whether the run's owner may still run workflows here; runs started by triggers have none. */
async function authorizeOwner(db: Db, runId: string): Promise<void> {
	const result = await db.execute(sql`
		select r.created_by, u.status, m.role from runs r
		left join users u on u.id = r.created_by
		left join memberships m on m.workspace_id = r.workspace_id and m.user_id = r.created_by
		where r.id = ${runId}
	`);
	const row = rows<{
		created_by: string | null;
		status: string | null;
		role: 'owner' | 'admin' | 'editor' | 'viewer' | null;
	}>(result)[0];
	if (!row || row.created_by === null) return;
	if (row.status !== 'active' || !roleMay(row.role, 'workflows.run')) {
		throw refused(
			"The person who started this run may no longer run workflows in this workspace, so the agent's tools are refused."
		);
	}
}

/** The `http_request` input with the mapped credential of its host added, host side. */
async function withCredentials(
	ctx: AgentRuntimeContext,
	context: ToolCallContext,
	ref: Extract<AgentTool, { type: 'builtin' }>,
	input: unknown
): Promise<unknown> {
	if (ref.name !== 'http_request' || ref.credentials.length === 0) return input;
	const request = input as { url?: unknown; headers?: Record<string, string> };
	let host: string;
	try {
		host = new URL(String(request.url)).hostname.toLowerCase();
	} catch {
		return input;
	}
	const mapping = ref.credentials.find((entry) => entry.host.toLowerCase() === host);
	if (mapping === undefined) return input;
	const credential = await ctx.lookupCredential(context.workspaceId, mapping.credentialId);
	if (credential === null) throw refused(`The credential mapped to ${host} is gone.`);
	context.conceal(credentialSecrets(credential));
	return { ...request, headers: applyCredential(credential, request.headers ?? {}) };
}

async function runTool(
	ctx: AgentRuntimeContext,
	context: ToolCallContext,
	tool: ResolvedTool,
	input: unknown
): Promise<unknown> {
	const found =
		tool.ref.type === 'workflow' ? null : await toolFor(ctx, context.workspaceId, tool.ref);
	if (found === null) throw refused(`The tool “${tool.name}” no longer exists.`);
	const prepared =
		tool.ref.type === 'builtin' ? await withCredentials(ctx, context, tool.ref, input) : input;
	try {
		return await found.execute(
			{
				workspaceId: context.workspaceId,
				idempotencyKey: context.idempotencyKey,
				signal: context.signal,
				conceal: context.conceal
			},
			prepared
		);
	} catch (error) {
		if (error instanceof ToolError && error.retryable)
			throw new StepFailure(error.code, error.message, { retryable: true });
		throw error;
	}
}

/** The agent kinds' dependencies, for the composition root; `openModel` is the model client. */
export function createAgentDeps(
	ctx: AgentRuntimeContext,
	openModel: AgentDeps['openModel']
): AgentDeps {
	return {
		openModel,
		loadAgent: (workspaceId, agentId) => loadAgent(ctx.db, workspaceId, agentId),
		resolveTools: (workspaceId, refs) => resolveTools(ctx, workspaceId, refs),
		authorize: (runId) => authorizeOwner(ctx.db, runId),
		runTool: (context, tool, input) => runTool(ctx, context, tool, input)
	};
}

/**
 * The `agent` and `llm` node kinds (with the agent's child kinds), wired to the workspace's records
 * and to the model providers through the guarded client.
 */
export function agentKinds(ctx: AgentRuntimeContext & { http: GuardedHttp }): AnyNodeKind[] {
	const openModel = createModelOpener({
		db: ctx.db,
		lookupCredential: ctx.lookupCredential,
		fetch: createGuardedFetch(ctx.http)
	});
	const deps = createAgentDeps(ctx, openModel);
	return [...createAgentKinds(deps), createLlmKind(deps)];
}
