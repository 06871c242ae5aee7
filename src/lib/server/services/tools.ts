import { randomUUID } from 'node:crypto';
import {
	defaultRequiresApproval,
	type CreateToolInput,
	type ToolRisk,
	type UpdateToolInput
} from '../../schemas/tools.ts';
import type { RatePolicy } from '../auth/rate-limit.ts';
import * as customTools from '../db/custom-tools.ts';
import type { CustomTool } from '../db/schema/index.ts';
import { isUuid } from '../ids.ts';
import {
	ToolError,
	customTool,
	inputValidator,
	type CustomToolDefinition,
	type JsonSchema,
	type Tool,
	type ToolRegistry
} from '../tools/registry.ts';
import { recordAudit } from './audit.ts';
import { ServiceError, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { authorizeWorkspace } from './workspaces.ts';

/** A tool as the list shows it: built-in or the workspace's own (those have an id). */
export type ToolView = {
	id?: string;
	name: string;
	description: string;
	inputSchema: JsonSchema;
	risk: ToolRisk;
	requiresApproval: boolean;
	builtIn: boolean;
};

/** A custom tool with everything its author can change. */
export type CustomToolView = {
	id: string;
	name: string;
	description: string;
	inputSchema: JsonSchema;
	source: string;
	risk: ToolRisk;
	requiresApproval: boolean;
	allowFetch: boolean;
	createdAt: Date;
	updatedAt: Date;
};

export type ToolTestResult =
	{ ok: true; output: unknown } | { ok: false; error: { code: string; message: string } };

/** What building a workspace's registry needs: workers have no full ServiceContext. */
export type ToolsContext = Pick<ServiceContext, 'db' | 'logger' | 'tools'>;

// Each test run takes a sandbox runner for up to its time limit: 30 a minute per person and workspace.
export const toolTestRatePolicy: RatePolicy = { name: 'tool-test', points: 30, duration: 60 };
const testRunTimeoutMs = 30_000;

function toView(row: CustomTool): CustomToolView {
	const { id, name, description, inputSchema, source, risk, requiresApproval, allowFetch } = row;
	const { createdAt, updatedAt } = row;
	return {
		id,
		name,
		description,
		inputSchema,
		source,
		risk,
		requiresApproval,
		allowFetch,
		createdAt,
		updatedAt
	};
}

function definitionOf(row: CustomTool): CustomToolDefinition {
	const { name, description, inputSchema, source, risk, requiresApproval, allowFetch } = row;
	return { name, description, inputSchema, source, risk, requiresApproval, allowFetch };
}

const nameTaken = () =>
	new ServiceError('conflict', 'This workspace already has a tool with that name.', {
		fields: { name: 'Already taken.' }
	});

/** Built-in names are taken in every workspace, in any case (models see both in one list). */
function refuseBuiltInName(registry: ToolRegistry, name: string): void {
	const builtIn = registry.list().find((tool) => tool.name.toLowerCase() === name.toLowerCase());
	if (builtIn)
		throw new ServiceError('conflict', `“${builtIn.name}” is the name of a built-in tool.`, {
			fields: { name: 'A built-in tool has this name; choose another.' }
		});
}

/** The schema must become a validator now, or every call of the tool would fail. */
function checkInputSchema(schema: JsonSchema): void {
	try {
		inputValidator(schema);
	} catch (error) {
		if (!(error instanceof ToolError)) throw error;
		throw new ServiceError('invalid', 'The input schema cannot be used.', {
			fields: { inputSchema: error.message }
		});
	}
}

/** Turns a unique-name violation anywhere in `work` into a 409. */
async function uniqueName<T>(work: Promise<T>): Promise<T> {
	try {
		return await work;
	} catch (error) {
		if (customTools.isDuplicateName(error)) throw nameTaken();
		throw error;
	}
}

async function loadTool(
	ctx: ServiceContext,
	workspaceId: string,
	toolId: string
): Promise<CustomTool> {
	const row = isUuid(toolId) ? await customTools.get(ctx.db, workspaceId, toolId) : null;
	if (row === null) throw notFound('Tool not found.');
	return row;
}

/** The built-in tools, then the workspace's own by name. */
export async function listWorkspaceTools(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
): Promise<ToolView[]> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'tools.read');
	const builtIns = ctx.tools.registry
		.list()
		.map(({ name, description, inputSchema, risk, requiresApproval }): ToolView => {
			return { name, description, inputSchema, risk, requiresApproval, builtIn: true };
		});
	const own = (await customTools.list(ctx.db, workspaceId)).map(
		({ id, name, description, inputSchema, risk, requiresApproval }): ToolView => {
			return { id, name, description, inputSchema, risk, requiresApproval, builtIn: false };
		}
	);
	return [...builtIns, ...own];
}

export async function getTool(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	toolId: string
): Promise<CustomToolView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'tools.read');
	return toView(await loadTool(ctx, workspaceId, toolId));
}

export async function createTool(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: CreateToolInput,
	meta: RequestMeta
): Promise<CustomToolView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'tools.manage');
	checkInputSchema(input.inputSchema);
	refuseBuiltInName(ctx.tools.registry, input.name);
	const requiresApproval = input.requiresApproval ?? defaultRequiresApproval(input.risk);
	const allowFetch = input.allowFetch ?? false;
	return uniqueName(
		ctx.db.transaction(async (tx) => {
			const created = await customTools.create(tx, {
				workspaceId,
				name: input.name,
				description: input.description,
				inputSchema: input.inputSchema,
				source: input.source,
				risk: input.risk,
				requiresApproval,
				allowFetch,
				createdBy: principal.user.id
			});
			await recordAudit(tx, meta, {
				action: 'tool.create',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'tool', id: created.id },
				details: { name: created.name, risk: created.risk, requiresApproval, allowFetch }
			});
			return toView(created);
		})
	);
}

/** Changes what the patch gives; a new risk keeps the stored approval flag unless one is given. */
export async function updateTool(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	toolId: string,
	patch: UpdateToolInput,
	meta: RequestMeta
): Promise<CustomToolView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'tools.manage');
	const current = await loadTool(ctx, workspaceId, toolId);
	if (patch.inputSchema !== undefined) checkInputSchema(patch.inputSchema);
	if (patch.name !== undefined) refuseBuiltInName(ctx.tools.registry, patch.name);
	const values = Object.fromEntries(
		Object.entries(patch).filter(([, value]) => value !== undefined)
	) as UpdateToolInput;
	// The audit log names what changed, never the code or the schema themselves.
	const changed = Object.keys(values).filter(
		(field) =>
			JSON.stringify(values[field as keyof UpdateToolInput]) !==
			JSON.stringify(current[field as keyof UpdateToolInput])
	);
	return uniqueName(
		ctx.db.transaction(async (tx) => {
			const updated = await customTools.update(tx, workspaceId, current.id, {
				...values,
				updatedAt: ctx.now()
			});
			if (updated === null) throw notFound('Tool not found.');
			await recordAudit(tx, meta, {
				action: 'tool.update',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'tool', id: current.id },
				details: { name: updated.name, changed }
			});
			return toView(updated);
		})
	);
}

export async function deleteTool(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	toolId: string,
	meta: RequestMeta
): Promise<void> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'tools.manage');
	const current = await loadTool(ctx, workspaceId, toolId);
	await ctx.db.transaction(async (tx) => {
		if ((await customTools.remove(tx, workspaceId, current.id)) === null)
			throw notFound('Tool not found.');
		await recordAudit(tx, meta, {
			action: 'tool.delete',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'tool', id: current.id },
			details: { name: current.name }
		});
	});
}

/**
 * Runs a custom tool once in the sandbox, as an agent would call it. Input that does not match the
 * tool's schema is a ServiceError (400); a tool that fails is a result with `ok: false`.
 */
export async function testTool(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	toolId: string,
	input: unknown
): Promise<ToolTestResult> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'tools.manage');
	const row = await loadTool(ctx, workspaceId, toolId);
	const allowance = await ctx.limiter.consume(
		`${workspaceId}:${principal.user.id}`,
		toolTestRatePolicy
	);
	if (!allowance.allowed)
		throw new ServiceError('rate-limited', 'Too many test runs; wait a moment.', {
			retryAfterSeconds: allowance.retryAfterSeconds
		});
	try {
		const tool = customTool(definitionOf(row), ctx.tools.sandbox);
		const output = await tool.execute(
			{
				workspaceId,
				idempotencyKey: `tool-test:${randomUUID()}`,
				signal: AbortSignal.timeout(testRunTimeoutMs),
				// A test run uses no credentials: there is nothing to scrub.
				conceal: () => {}
			},
			input
		);
		return { ok: true, output };
	} catch (error) {
		if (!(error instanceof ToolError)) throw error;
		if (error.code === 'invalid_input')
			throw new ServiceError('invalid', error.message, { fields: { input: error.message } });
		return { ok: false, error: { code: error.code, message: error.message } };
	}
}

/**
 * A workspace's tool as agents run it, or null (logged) when a built-in now has its name or its
 * stored schema no longer converts: such a tool is left out rather than failing every agent step.
 */
function usableCustomTool(ctx: ToolsContext, row: CustomTool): Tool | null {
	const { registry, sandbox } = ctx.tools;
	const name = row.name.toLowerCase();
	if (registry.list().some((tool) => tool.name.toLowerCase() === name)) {
		ctx.logger.warn(
			{ workspaceId: row.workspaceId, tool: row.name },
			'custom tool shadowed by a built-in'
		);
		return null;
	}
	try {
		return customTool(definitionOf(row), sandbox);
	} catch (error) {
		if (!(error instanceof ToolError)) throw error;
		ctx.logger.warn(
			{ workspaceId: row.workspaceId, tool: row.name, err: error },
			'custom tool left out'
		);
		return null;
	}
}

/** For agents, host side: one of the workspace's own tools by id (see usableCustomTool). */
export async function workspaceCustomTool(
	ctx: ToolsContext,
	workspaceId: string,
	toolId: string
): Promise<Tool | null> {
	const row = isUuid(toolId) ? await customTools.get(ctx.db, workspaceId, toolId) : null;
	return row === null ? null : usableCustomTool(ctx, row);
}

/**
 * For agents, host side: the built-in tools plus the workspace's own, each running in the sandbox.
 * Built-ins win a name both have (one added after a workspace took the name), and a tool whose stored
 * schema no longer converts is left out; both are logged rather than failing every agent step.
 */
export async function workspaceToolRegistry(
	ctx: ToolsContext,
	workspaceId: string
): Promise<ToolRegistry> {
	const rows = isUuid(workspaceId) ? await customTools.list(ctx.db, workspaceId) : [];
	const tools = rows.flatMap((row) => usableCustomTool(ctx, row) ?? []);
	return ctx.tools.registry.with(tools);
}
