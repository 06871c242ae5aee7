import { createTwoFilesPatch } from 'diff';
import * as workflows from '../db/workflows.ts';
import { isUuid } from '../ids.ts';
import { checkDefinition, type DefinitionCheck } from '../engine/definition.ts';
import { missingReferences } from './definition-references.ts';
import {
	workflowExportSchema,
	type DefinitionProblem,
	type WorkflowExport
} from '../../schemas/workflow.ts';
import { recordAudit } from './audit.ts';
import { authorizeWorkspace } from './workspaces.ts';
import { DefinitionError, ServiceError, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';

/** The definition a new workflow starts from: input straight to output. */
export const starterDefinition = {
	inputs: [],
	nodes: [
		{ id: 'start', kind: 'input', config: {} },
		{ id: 'done', kind: 'output', config: {} }
	],
	edges: [{ from: 'start', to: 'done' }]
};

/** The workflow, or 404 (also for a malformed id); authorization is the caller's. */
export async function loadWorkflow(
	ctx: Pick<ServiceContext, 'db'>,
	workspaceId: string,
	workflowId: string
) {
	const workflow = isUuid(workflowId) ? await workflows.get(ctx.db, workspaceId, workflowId) : null;
	if (workflow === null) throw notFound('Workflow not found.');
	return workflow;
}

export async function listWorkflows(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	return workflows.list(ctx.db, workspaceId);
}

export async function getWorkflow(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string
) {
	const { role } = await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	const workflow = await loadWorkflow(ctx, workspaceId, workflowId);
	const latest =
		workflow.latestVersion > 0
			? await workflows.getVersion(ctx.db, workspaceId, workflowId, workflow.latestVersion)
			: null;
	const published =
		workflow.publishedVersionId === null
			? null
			: await workflows.getVersionById(ctx.db, workspaceId, workflow.publishedVersionId);
	return { workflow, latest, published: published?.number ?? null, role };
}

/** Checks a definition without saving it (the editor's "check" button). */
export async function validateWorkflowDefinition(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	definition: unknown
): Promise<DefinitionProblem[]> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	await loadWorkflow(ctx, workspaceId, workflowId);
	return (await checkInWorkspace(ctx, workspaceId, definition)).problems;
}

/** The definition as the engine checks it, and the providers and agents it names in the workspace. */
async function checkInWorkspace(
	ctx: ServiceContext,
	workspaceId: string,
	raw: unknown
): Promise<DefinitionCheck> {
	const check = checkDefinition(raw, ctx.kinds);
	if (!check.ok) return check;
	const problems = await missingReferences(ctx.db, workspaceId, check.definition);
	return problems.length === 0 ? check : { ok: false, definition: check.definition, problems };
}

export async function createWorkflow(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: { name: string; description: string; definition?: unknown },
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	const check = await checkInWorkspace(ctx, workspaceId, input.definition ?? starterDefinition);
	if (!check.ok) throw new DefinitionError(check.problems);
	return ctx.db.transaction(async (tx) => {
		const workflow = await workflows.create(tx, {
			workspaceId,
			name: input.name,
			description: input.description,
			createdBy: principal.user.id
		});
		const version = await workflows.addVersion(tx, {
			workspaceId,
			workflowId: workflow.id,
			definition: check.definition,
			note: 'Created',
			createdBy: principal.user.id
		});
		await recordAudit(tx, meta, {
			action: 'workflow.create',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'workflow', id: workflow.id }
		});
		return { ...workflow, latestVersion: version.number };
	});
}

export async function updateWorkflowMeta(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	input: { name?: string; description?: string }
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	await loadWorkflow(ctx, workspaceId, workflowId);
	const updated = await workflows.update(ctx.db, workspaceId, workflowId, input);
	if (updated === null) throw notFound('Workflow not found.');
	return updated;
}

export async function deleteWorkflow(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	await loadWorkflow(ctx, workspaceId, workflowId);
	await ctx.db.transaction(async (tx) => {
		await workflows.remove(tx, workspaceId, workflowId);
		await recordAudit(tx, meta, {
			action: 'workflow.delete',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'workflow', id: workflowId }
		});
	});
}

/** Saves a new immutable version; with `publish`, runs start on it from now on. */
export async function saveVersion(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	input: { definition: unknown; note: string; publish: boolean },
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	await loadWorkflow(ctx, workspaceId, workflowId);
	const check = await checkInWorkspace(ctx, workspaceId, input.definition);
	if (!check.ok) throw new DefinitionError(check.problems);
	return ctx.db.transaction(async (tx) => {
		const version = await workflows.addVersion(tx, {
			workspaceId,
			workflowId,
			definition: check.definition,
			note: input.note,
			createdBy: principal.user.id
		});
		if (input.publish) {
			await workflows.update(tx, workspaceId, workflowId, { publishedVersionId: version.id });
			await recordAudit(tx, meta, {
				action: 'workflow.publish',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'workflow', id: workflowId },
				details: { version: version.number }
			});
		}
		return version;
	});
}

export async function publishVersion(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	number: number,
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	await loadWorkflow(ctx, workspaceId, workflowId);
	const version = await workflows.getVersion(ctx.db, workspaceId, workflowId, number);
	if (version === null) throw notFound('Version not found.');
	await ctx.db.transaction(async (tx) => {
		await workflows.update(tx, workspaceId, workflowId, { publishedVersionId: version.id });
		await recordAudit(tx, meta, {
			action: 'workflow.publish',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'workflow', id: workflowId },
			details: { version: number }
		});
	});
	return version;
}

export async function listVersions(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	await loadWorkflow(ctx, workspaceId, workflowId);
	return workflows.listVersions(ctx.db, workspaceId, workflowId);
}

async function findVersion(
	ctx: ServiceContext,
	workspaceId: string,
	workflowId: string,
	number: number
) {
	const version = await workflows.getVersion(ctx.db, workspaceId, workflowId, number);
	if (version === null) throw notFound('Version not found.');
	return version;
}

export async function getVersion(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	number: number
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	await loadWorkflow(ctx, workspaceId, workflowId);
	return findVersion(ctx, workspaceId, workflowId, number);
}

/** A unified diff of two versions' definitions, pretty-printed with sorted keys so only changes show. */
export async function diffVersions(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	from: number,
	to: number
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	await loadWorkflow(ctx, workspaceId, workflowId);
	const [a, b] = await Promise.all([
		findVersion(ctx, workspaceId, workflowId, from),
		findVersion(ctx, workspaceId, workflowId, to)
	]);
	const [before, after] = [canonicalJson(a.definition), canonicalJson(b.definition)];
	const patch = createTwoFilesPatch(`v${a.number}`, `v${b.number}`, before, after);
	return { from: a.number, to: b.number, identical: before === after, patch };
}

export function canonicalJson(value: unknown): string {
	const sortKeys = (item: unknown): unknown => {
		if (Array.isArray(item)) return item.map(sortKeys);
		if (item !== null && typeof item === 'object') {
			return Object.fromEntries(
				Object.keys(item)
					.sort()
					.map((key) => [key, sortKeys((item as Record<string, unknown>)[key])])
			);
		}
		return item;
	};
	return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

export async function exportWorkflow(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	number?: number
): Promise<WorkflowExport> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	const workflow = await loadWorkflow(ctx, workspaceId, workflowId);
	const version = await findVersion(ctx, workspaceId, workflowId, number ?? workflow.latestVersion);
	return {
		format: 'awe.workflow/v1',
		name: workflow.name,
		description: workflow.description,
		definition: version.definition
	};
}

/** Creates a workflow from an export. Only parses and checks: nothing in it is executed. */
export async function importWorkflow(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	raw: unknown,
	meta: RequestMeta
) {
	const parsed = workflowExportSchema.safeParse(raw);
	if (!parsed.success) {
		throw new ServiceError('invalid', 'This is not an AWE workflow export.', {
			fields: Object.fromEntries(
				parsed.error.issues.map((issue) => [issue.path.join('.') || 'file', issue.message])
			)
		});
	}
	return createWorkflow(ctx, principal, workspaceId, parsed.data, meta);
}
