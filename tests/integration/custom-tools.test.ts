import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import * as audit from '../../src/lib/server/db/audit.ts';
import * as customTools from '../../src/lib/server/db/custom-tools.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import {
	createTool,
	deleteTool,
	getTool,
	listWorkspaceTools,
	testTool,
	toolTestRatePolicy,
	updateTool,
	workspaceToolRegistry
} from '../../src/lib/server/services/tools.ts';
import { createInvite, createWorkspace } from '../../src/lib/server/services/workspaces.ts';
import type { CreateToolInput } from '../../src/lib/schemas/tools.ts';
import type { ToolContext } from '../../src/lib/server/tools/registry.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createTestServices, meta, signUpUser } from '../helpers/services.ts';

const testDb = useTestDatabase();
const contexts: ReturnType<typeof createTestServices>[] = [];

afterAll(async () => {
	// The sandbox runners of every context that ran code.
	await Promise.all(contexts.map((ctx) => ctx.tools.sandbox.close()));
});

async function outcome(promise: Promise<unknown>): Promise<string> {
	try {
		await promise;
		return 'ok';
	} catch (error) {
		if (error instanceof ServiceError) return error.type;
		throw error;
	}
}

/** A workspace with one member of each role, plus an outsider with a workspace of their own. */
async function team() {
	const ctx = createTestServices(testDb.database);
	contexts.push(ctx);
	const owner = await signUpUser(ctx, { name: 'Owner' });
	const workspace = await createWorkspace(ctx, owner.principal, { name: 'Team' }, meta);
	const members: Record<string, Principal> = { owner: owner.principal };
	for (const role of ['admin', 'editor', 'viewer'] as const) {
		const invite = await createInvite(ctx, owner.principal, workspace.id, { role }, meta);
		members[role] = (await signUpUser(ctx, { name: role, inviteToken: invite.token })).principal;
	}
	const outsider = (await signUpUser(ctx, { name: 'Outsider' })).principal;
	const elsewhere = await createWorkspace(ctx, outsider, { name: 'Elsewhere' }, meta);
	return { ctx, workspaceId: workspace.id, members, outsider, elsewhere: elsewhere.id };
}

const greet = (overrides: Partial<CreateToolInput> = {}): CreateToolInput => ({
	name: 'greet',
	description: 'Greets someone by name.',
	inputSchema: {
		type: 'object',
		properties: { name: { type: 'string', minLength: 1 } },
		required: ['name'],
		additionalProperties: false
	},
	source: 'return { greeting: `Hello, ${input.name}!` };',
	risk: 'read',
	...overrides
});

const toolContext = (): ToolContext => ({
	workspaceId: 'unused',
	idempotencyKey: 'test:1',
	signal: new AbortController().signal,
	conceal: () => {}
});

describe('custom tool services', () => {
	it('let viewers read, editors and up manage and test, and answer 404 to outsiders', async () => {
		const { ctx, workspaceId, members, outsider } = await team();
		const seed = await createTool(ctx, members.owner!, workspaceId, greet(), meta);
		let counter = 0;
		const actions: Record<string, (principal: Principal) => Promise<unknown>> = {
			list: (p) => listWorkspaceTools(ctx, p, workspaceId),
			get: (p) => getTool(ctx, p, workspaceId, seed.id),
			create: (p) =>
				createTool(ctx, p, workspaceId, greet({ name: `tool_${(counter += 1)}` }), meta),
			update: (p) => updateTool(ctx, p, workspaceId, seed.id, { description: 'Greets.' }, meta),
			test: (p) => testTool(ctx, p, workspaceId, seed.id, { name: 'Ada' })
		};
		const results: Record<string, Record<string, string>> = {};
		for (const [who, principal] of Object.entries({ ...members, outsider })) {
			results[who] = {};
			for (const [name, action] of Object.entries(actions))
				results[who][name] = await outcome(action(principal));
		}
		const manage = { list: 'ok', get: 'ok', create: 'ok', update: 'ok', test: 'ok' };
		const nothing = { list: 'not-found', get: 'not-found', create: 'not-found' };
		expect(results).toEqual({
			owner: manage,
			admin: manage,
			editor: manage,
			viewer: {
				list: 'ok',
				get: 'ok',
				create: 'forbidden',
				update: 'forbidden',
				test: 'forbidden'
			},
			outsider: { ...nothing, update: 'not-found', test: 'not-found' }
		});
		expect(await outcome(deleteTool(ctx, members.viewer!, workspaceId, seed.id, meta))).toBe(
			'forbidden'
		);
		expect(await outcome(deleteTool(ctx, outsider, workspaceId, seed.id, meta))).toBe('not-found');
		expect(await outcome(deleteTool(ctx, members.editor!, workspaceId, seed.id, meta))).toBe('ok');
		expect(await outcome(getTool(ctx, members.owner!, workspaceId, seed.id))).toBe('not-found');
	});

	it('list the built-ins first, then the workspace’s own by name', async () => {
		const { ctx, workspaceId, members } = await team();
		await createTool(ctx, members.editor!, workspaceId, greet({ name: 'zeta' }), meta);
		const alpha = await createTool(
			ctx,
			members.editor!,
			workspaceId,
			greet({ name: 'Alpha', risk: 'external' }),
			meta
		);
		const listed = await listWorkspaceTools(ctx, members.viewer!, workspaceId);
		expect(
			listed.map((tool) => [tool.name, tool.builtIn, tool.risk, tool.requiresApproval])
		).toEqual([
			['http_request', true, 'external', false],
			['run_code', true, 'read', false],
			['current_time', true, 'read', false],
			['Alpha', false, 'external', true],
			['zeta', false, 'read', false]
		]);
		expect(listed.find((tool) => tool.name === 'Alpha')).toEqual({
			id: alpha.id,
			name: 'Alpha',
			description: 'Greets someone by name.',
			inputSchema: greet().inputSchema,
			risk: 'external',
			requiresApproval: true,
			builtIn: false
		});
		// The list never carries code, the built-ins have no id.
		expect(JSON.stringify(listed)).not.toContain('Hello');
		expect(listed.filter((tool) => tool.builtIn).every((tool) => tool.id === undefined)).toBe(true);
	});

	it('default the approval flag by risk and fetch to off, and keep what is given', async () => {
		const { ctx, workspaceId, members } = await team();
		const create = (input: Partial<CreateToolInput>) =>
			createTool(ctx, members.editor!, workspaceId, greet(input), meta);
		expect(await create({ name: 'reader', risk: 'read' })).toMatchObject({
			requiresApproval: false,
			allowFetch: false
		});
		expect(await create({ name: 'writer', risk: 'write' })).toMatchObject({
			requiresApproval: true
		});
		expect(await create({ name: 'caller', risk: 'external' })).toMatchObject({
			requiresApproval: true
		});
		const trusted = await create({
			name: 'trusted',
			risk: 'external',
			requiresApproval: false,
			allowFetch: true
		});
		expect(trusted).toMatchObject({ requiresApproval: false, allowFetch: true });
		// A new risk keeps the stored flag; the flag changes only when given.
		const risky = await updateTool(
			ctx,
			members.editor!,
			workspaceId,
			trusted.id,
			{ risk: 'write' },
			meta
		);
		expect(risky).toMatchObject({ risk: 'write', requiresApproval: false, allowFetch: true });
		const read = await getTool(ctx, members.viewer!, workspaceId, trusted.id);
		expect(Object.keys(read).sort()).toEqual(
			[
				'allowFetch',
				'createdAt',
				'description',
				'id',
				'inputSchema',
				'name',
				'requiresApproval',
				'risk',
				'source',
				'updatedAt'
			].sort()
		);
	});

	it('refuse input schemas that cannot become a validator, naming the field', async () => {
		const { ctx, workspaceId, members } = await team();
		const bad = [
			{ type: 'string' },
			{ properties: { a: { type: 'string' } } },
			{ type: 'object', properties: { a: { $ref: 'https://evil.example/schema.json' } } }
		];
		for (const inputSchema of bad) {
			const error = await createTool(
				ctx,
				members.editor!,
				workspaceId,
				greet({ inputSchema }),
				meta
			).catch((caught: unknown) => caught);
			expect(error).toBeInstanceOf(ServiceError);
			expect(error).toMatchObject({
				type: 'invalid',
				fields: { inputSchema: expect.stringMatching(/object|cannot be used/) }
			});
		}
		const tool = await createTool(ctx, members.editor!, workspaceId, greet(), meta);
		await expect(
			updateTool(
				ctx,
				members.editor!,
				workspaceId,
				tool.id,
				{ inputSchema: { type: 'array' } },
				meta
			)
		).rejects.toMatchObject({ type: 'invalid', fields: { inputSchema: expect.any(String) } });
		expect((await getTool(ctx, members.editor!, workspaceId, tool.id)).inputSchema).toEqual(
			greet().inputSchema
		);
		expect((await listWorkspaceTools(ctx, members.editor!, workspaceId)).length).toBe(4);
	});

	it('refuse the name of a built-in and a name the workspace already uses, in any case', async () => {
		const { ctx, workspaceId, members, outsider, elsewhere } = await team();
		for (const name of ['http_request', 'Current_Time', 'RUN_CODE']) {
			await expect(
				createTool(ctx, members.editor!, workspaceId, greet({ name }), meta)
			).rejects.toMatchObject({
				type: 'conflict',
				message: expect.stringContaining('built-in'),
				fields: { name: expect.stringContaining('built-in') }
			});
		}
		const first = await createTool(ctx, members.editor!, workspaceId, greet(), meta);
		await expect(
			createTool(ctx, members.editor!, workspaceId, greet({ name: 'GREET' }), meta)
		).rejects.toMatchObject({ type: 'conflict', fields: { name: 'Already taken.' } });
		const second = await createTool(
			ctx,
			members.editor!,
			workspaceId,
			greet({ name: 'wave' }),
			meta
		);
		await expect(
			updateTool(ctx, members.editor!, workspaceId, second.id, { name: 'Greet' }, meta)
		).rejects.toMatchObject({ type: 'conflict' });
		await expect(
			updateTool(ctx, members.editor!, workspaceId, second.id, { name: 'current_time' }, meta)
		).rejects.toMatchObject({ type: 'conflict' });
		// Renaming a tool to its own name in another case is no clash.
		expect(
			(await updateTool(ctx, members.editor!, workspaceId, first.id, { name: 'Greet' }, meta)).name
		).toBe('Greet');
		// Another workspace may use the name.
		expect((await createTool(ctx, outsider, elsewhere, greet(), meta)).name).toBe('greet');
	});

	it('record create, update and delete in the audit log, without the code or the schema', async () => {
		const { ctx, workspaceId, members } = await team();
		const source = 'return { marker: "audit-source-marker-1234" };';
		const tool = await createTool(ctx, members.editor!, workspaceId, greet({ source }), meta);
		await updateTool(
			ctx,
			members.editor!,
			workspaceId,
			tool.id,
			{ source: `${source} // v2`, description: 'Greets someone by name.', risk: 'write' },
			meta
		);
		await deleteTool(ctx, members.editor!, workspaceId, tool.id, meta);
		const entries = (await audit.list(ctx.db, { limit: 1000 })).filter(
			(entry) => entry.targetId === tool.id
		);
		expect(
			entries.map((entry) => [entry.action, entry.targetType, entry.details]).reverse()
		).toEqual([
			[
				'tool.create',
				'tool',
				{ name: 'greet', risk: 'read', requiresApproval: false, allowFetch: false }
			],
			// The description was sent unchanged, so only the code and the risk are named.
			['tool.update', 'tool', { name: 'greet', changed: ['source', 'risk'] }],
			['tool.delete', 'tool', { name: 'greet' }]
		]);
		expect(entries.every((entry) => entry.workspaceId === workspaceId)).toBe(true);
		expect(JSON.stringify(entries)).not.toContain('audit-source-marker');
		expect(JSON.stringify(entries)).not.toContain('minLength');
	});

	it('answer not-found for another workspace’s tool and for malformed ids', async () => {
		const { ctx, workspaceId, members, outsider, elsewhere } = await team();
		const mine = await createTool(ctx, members.owner!, workspaceId, greet(), meta);
		// The outsider names this workspace's tool under their own workspace.
		const probes = [
			() => getTool(ctx, outsider, elsewhere, mine.id),
			() => updateTool(ctx, outsider, elsewhere, mine.id, { name: 'taken' }, meta),
			() => deleteTool(ctx, outsider, elsewhere, mine.id, meta),
			() => testTool(ctx, outsider, elsewhere, mine.id, { name: 'Ada' })
		];
		for (const probe of probes) expect(await outcome(probe())).toBe('not-found');
		for (const id of ['not-a-uuid', `${mine.id}x`, '0'.repeat(36), randomUUID()])
			expect(await outcome(getTool(ctx, members.owner!, workspaceId, id))).toBe('not-found');
		expect(await getTool(ctx, members.owner!, workspaceId, mine.id)).toMatchObject({
			name: 'greet',
			description: 'Greets someone by name.'
		});
		const registry = await workspaceToolRegistry(ctx, elsewhere);
		expect(registry.get('greet')).toBeUndefined();
	});

	it('test-run a tool: output, a failure as a result, bad input as invalid', async () => {
		const { ctx, workspaceId, members } = await team();
		const tool = await createTool(ctx, members.editor!, workspaceId, greet(), meta);
		expect(await testTool(ctx, members.editor!, workspaceId, tool.id, { name: 'Ada' })).toEqual({
			ok: true,
			output: { greeting: 'Hello, Ada!' }
		});
		const thrower = await createTool(
			ctx,
			members.editor!,
			workspaceId,
			greet({ name: 'thrower', source: 'throw new Error("no luck for " + input.name);' }),
			meta
		);
		expect(await testTool(ctx, members.editor!, workspaceId, thrower.id, { name: 'Ada' })).toEqual({
			ok: false,
			error: { code: 'code_runtime_error', message: expect.stringContaining('no luck for Ada') }
		});
		const broken = await createTool(
			ctx,
			members.editor!,
			workspaceId,
			greet({ name: 'broken', source: 'return {' }),
			meta
		);
		expect(
			await testTool(ctx, members.editor!, workspaceId, broken.id, { name: 'Ada' })
		).toMatchObject({ ok: false, error: { code: 'code_syntax_error' } });
		for (const input of [{}, { name: '' }, { name: 'Ada', extra: true }, 'Ada', null])
			await expect(
				testTool(ctx, members.editor!, workspaceId, tool.id, input)
			).rejects.toMatchObject({
				type: 'invalid',
				fields: { input: expect.stringMatching(/^Invalid input/) }
			});
	});

	it('throttle test runs per person and workspace', async () => {
		const { ctx, workspaceId, members } = await team();
		const tool = await createTool(
			ctx,
			members.editor!,
			workspaceId,
			greet({ name: 'quick', source: 'return 1;' }),
			meta
		);
		const run = (principal: Principal) =>
			outcome(testTool(ctx, principal, workspaceId, tool.id, { name: 'Ada' }));
		for (let i = 0; i < toolTestRatePolicy.points; i += 1)
			expect(await run(members.editor!)).toBe('ok');
		const refused = await testTool(ctx, members.editor!, workspaceId, tool.id, {
			name: 'Ada'
		}).catch((error: unknown) => error);
		expect(refused).toMatchObject({ type: 'rate-limited', retryAfterSeconds: 60 });
		// Someone else is not held up; the count ends with its minute.
		expect(await run(members.owner!)).toBe('ok');
		ctx.clock.advance(60_000);
		expect(await run(members.editor!)).toBe('ok');
	});
});

describe('workspaceToolRegistry', () => {
	it('adds the workspace’s tools to the built-ins and runs them in the real sandbox', async () => {
		const { ctx, workspaceId, members, elsewhere } = await team();
		await createTool(ctx, members.editor!, workspaceId, greet({ risk: 'write' }), meta);
		const registry = await workspaceToolRegistry(ctx, workspaceId);
		expect(registry.list().map((tool) => tool.name)).toEqual([
			'http_request',
			'run_code',
			'current_time',
			'greet'
		]);
		const tool = registry.get('greet');
		expect(tool).toMatchObject({ risk: 'write', requiresApproval: true });
		expect(await tool?.execute(toolContext(), { name: 'Grace' })).toEqual({
			greeting: 'Hello, Grace!'
		});
		await expect(tool?.execute(toolContext(), { name: 42 })).rejects.toMatchObject({
			code: 'invalid_input'
		});
		// The built-ins run too; the shared registry itself is left as it was.
		expect(
			await registry.get('run_code')?.execute(toolContext(), { source: 'return 6 * 7' })
		).toEqual({ output: 42, logs: [] });
		expect(ctx.tools.registry.get('greet')).toBeUndefined();
		expect((await workspaceToolRegistry(ctx, elsewhere)).list()).toHaveLength(3);
		expect((await workspaceToolRegistry(ctx, 'not-a-uuid')).list()).toHaveLength(3);
	});

	it('leaves out stored tools that clash with a built-in or whose schema no longer converts', async () => {
		const { ctx, workspaceId, members } = await team();
		const row = (name: string, inputSchema: Record<string, unknown>) =>
			customTools.create(ctx.db, {
				workspaceId,
				name,
				description: 'Stored before the rules changed.',
				inputSchema,
				source: 'return 1;',
				risk: 'read',
				requiresApproval: false,
				createdBy: members.owner!.user.id
			});
		await row('Current_Time', { type: 'object' });
		await row('stale', { type: 'string' });
		await createTool(ctx, members.editor!, workspaceId, greet(), meta);
		const registry = await workspaceToolRegistry(ctx, workspaceId);
		expect(registry.list().map((tool) => tool.name)).toEqual([
			'http_request',
			'run_code',
			'current_time',
			'greet'
		]);
	});
});
