import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient } from '../helpers/http-client.ts';
import { expectProblem, formMessage, signUpFirst, signUpInvited } from '../security/support.ts';

/** Workspace custom tools through the JSON API and the page, against the production build. */

const app = useAppServer();

interface ToolBody {
	id: string;
	name: string;
	description: string;
	inputSchema: Record<string, unknown>;
	source: string;
	risk: string;
	requiresApproval: boolean;
	allowFetch: boolean;
	createdAt: string;
	updatedAt: string;
}

interface ListedTool {
	id?: string;
	name: string;
	risk: string;
	requiresApproval: boolean;
	builtIn: boolean;
}

let owner: TestClient;
let editor: TestClient;
let viewer: TestClient;
let outsider: TestClient;
let workspace: string;
let otherWorkspace: string;

const base = (workspaceId = workspace) => `/api/v1/workspaces/${workspaceId}/tools`;

const greet = (overrides: Record<string, unknown> = {}) => ({
	name: 'greet',
	description: 'Greets someone by name.',
	inputSchema: {
		type: 'object',
		properties: { name: { type: 'string', minLength: 1 } },
		required: ['name']
	},
	source: 'return { greeting: `Hello, ${input.name}!` };',
	risk: 'read',
	...overrides
});

const post = (body: unknown, client = owner, workspaceId = workspace) =>
	client.json(base(workspaceId), 'POST', body);

async function created(body: Record<string, unknown>, client = owner) {
	const response = await post(body, client);
	expect(response.status).toBe(201);
	return (await response.json()) as ToolBody;
}

const get = (path: string, client = owner) =>
	client.request(path, { headers: { accept: 'application/json' } });

const patch = (id: string, body: unknown, client = owner) =>
	client.json(`${base()}/${id}`, 'PATCH', body);

const remove = (id: string, client = owner, workspaceId = workspace) =>
	client.request(`${base(workspaceId)}/${id}`, {
		method: 'DELETE',
		headers: { origin: client.origin }
	});

const testRun = (id: string, body: unknown, client = owner, workspaceId = workspace) =>
	client.json(`${base(workspaceId)}/${id}/test`, 'POST', body);

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = first.client;
	workspace = first.workspaceId;
	editor = (await signUpInvited(app.url, owner, workspace, 'editor')).client;
	viewer = (await signUpInvited(app.url, owner, workspace, 'viewer')).client;
	// A member of another workspace only, owning one of their own.
	const lobby = await owner.json('/api/v1/workspaces', 'POST', { name: 'Lobby' });
	const lobbyId = ((await lobby.json()) as { id: string }).id;
	outsider = (await signUpInvited(app.url, owner, lobbyId, 'viewer')).client;
	const other = await outsider.json('/api/v1/workspaces', 'POST', { name: 'Elsewhere' });
	otherWorkspace = ((await other.json()) as { id: string }).id;
});

describe('CRUD', () => {
	it('creates a tool, answering 201 with defaults filled in, and lists it after the built-ins', async () => {
		const tool = await created(greet());
		expect(tool).toMatchObject({
			...greet(),
			requiresApproval: false,
			allowFetch: false
		});
		expect(tool.id).toMatch(/^[0-9a-f-]{36}$/);
		const writer = await created(greet({ name: 'writer', risk: 'write' }));
		expect(writer.requiresApproval).toBe(true);

		const list = (await (await get(base())).json()) as ListedTool[];
		expect(list.map((item) => [item.name, item.builtIn, item.risk, item.requiresApproval])).toEqual(
			[
				['http_request', true, 'external', false],
				['run_code', true, 'read', false],
				['current_time', true, 'read', false],
				['greet', false, 'read', false],
				['writer', false, 'write', true]
			]
		);
		expect(list.find((item) => item.name === 'greet')?.id).toBe(tool.id);
		expect(list.find((item) => item.name === 'http_request')).not.toHaveProperty('id');
	});

	it('reads, updates and deletes one tool', async () => {
		const tool = await created(greet({ name: 'rotating' }));
		expect(await (await get(`${base()}/${tool.id}`)).json()).toEqual(tool);

		const updated = await patch(tool.id, {
			name: 'Rotated',
			risk: 'external',
			allowFetch: true,
			inputSchema: { type: 'object', properties: { url: { type: 'string' } } }
		});
		expect(updated.status).toBe(200);
		expect(await updated.json()).toMatchObject({
			name: 'Rotated',
			risk: 'external',
			// A new risk keeps the stored approval flag.
			requiresApproval: false,
			allowFetch: true,
			inputSchema: { type: 'object', properties: { url: { type: 'string' } } },
			source: tool.source
		});

		expect((await remove(tool.id)).status).toBe(204);
		await expectProblem(await get(`${base()}/${tool.id}`), 404, 'not-found');
		await expectProblem(await remove(tool.id), 404, 'not-found');
	});
});

describe('validation', () => {
	it('answers 400 problem+json naming each bad field', async () => {
		const bad = await expectProblem(
			await post({
				name: 'has spaces',
				description: '',
				inputSchema: [],
				source: '',
				risk: 'dangerous'
			}),
			400,
			'invalid'
		);
		expect(Object.keys((bad as unknown as { errors: object }).errors).sort()).toEqual([
			'description',
			'inputSchema',
			'name',
			'risk',
			'source'
		]);
		for (const body of [
			greet({ name: '1st' }),
			greet({ name: 'x'.repeat(65) }),
			greet({ description: 'x'.repeat(1001) }),
			greet({ source: 'x'.repeat(100_001) }),
			greet({ requiresApproval: 'yes' }),
			greet({ inputSchema: 'object' }),
			greet({ inputSchema: { type: 'object', description: 'x'.repeat(64 * 1024) } })
		])
			await expectProblem(await post(body), 400, 'invalid');
		const notJson = await owner.request(base(), {
			method: 'POST',
			body: 'name=greet',
			headers: { origin: owner.origin, 'content-type': 'application/x-www-form-urlencoded' }
		});
		await expectProblem(notJson, 415, 'invalid-body');
	});

	it('answers 400 to an input schema that cannot be used, saying why', async () => {
		for (const inputSchema of [
			{ type: 'string' },
			{ type: 'object', properties: { a: { $ref: 'https://evil.example/schema.json' } } }
		]) {
			const problem = (await expectProblem(
				await post(greet({ name: 'unusable', inputSchema })),
				400,
				'invalid'
			)) as unknown as { errors: { inputSchema: string } };
			expect(problem.errors.inputSchema).toMatch(/must describe an object|cannot be used/);
		}
		const tool = await created(greet({ name: 'schema_kept' }));
		await expectProblem(await patch(tool.id, { inputSchema: { type: 'array' } }), 400, 'invalid');
	});

	it('answers 409 to a built-in’s name and to one the workspace already uses, in any case', async () => {
		const builtIn = (await expectProblem(
			await post(greet({ name: 'HTTP_Request' })),
			409,
			'conflict'
		)) as unknown as { title: string; errors: { name: string } };
		expect(builtIn.title).toBe('“http_request” is the name of a built-in tool.');
		expect(builtIn.errors.name).toMatch(/built-in/);
		await created(greet({ name: 'unique' }));
		await expectProblem(await post(greet({ name: 'UNIQUE' })), 409, 'conflict');
		const second = await created(greet({ name: 'second' }));
		await expectProblem(await patch(second.id, { name: 'Unique' }), 409, 'conflict');
		await expectProblem(await patch(second.id, { name: 'run_code' }), 409, 'conflict');
		// Another workspace may use the name.
		expect((await post(greet({ name: 'unique' }), outsider, otherWorkspace)).status).toBe(201);
	});
});

describe('test runs', () => {
	it('answers ok with the output, ok: false for a failing tool, and 400 for bad input', async () => {
		const tool = await created(greet({ name: 'tried' }));
		const ok = await testRun(tool.id, { input: { name: 'Ada' } });
		expect(ok.status).toBe(200);
		expect(await ok.json()).toEqual({ ok: true, output: { greeting: 'Hello, Ada!' } });

		const thrower = await created(
			greet({ name: 'thrower', source: 'throw new Error("nope: " + input.name);' })
		);
		const failed = await testRun(thrower.id, { input: { name: 'Ada' } });
		expect(failed.status).toBe(200);
		expect(await failed.json()).toEqual({
			ok: false,
			error: { code: 'code_runtime_error', message: expect.stringContaining('nope: Ada') }
		});
		const slow = await created(greet({ name: 'slow', source: 'while (true) {}' }));
		expect(await (await testRun(slow.id, { input: { name: 'Ada' } })).json()).toMatchObject({
			ok: false,
			error: { code: 'code_timeout' }
		});

		for (const body of [{ input: { name: 42 } }, { input: 'Ada' }, {}]) {
			const problem = (await expectProblem(
				await testRun(tool.id, body),
				400,
				'invalid'
			)) as unknown as { errors: { input: string } };
			expect(problem.errors.input).toMatch(/^Invalid input/);
		}
		const notJson = await owner.request(`${base()}/${tool.id}/test`, {
			method: 'POST',
			body: '{"input":',
			headers: { origin: owner.origin, 'content-type': 'application/json' }
		});
		await expectProblem(notJson, 400, 'invalid-body');
		await expectProblem(await testRun(randomUUID(), { input: {} }), 404, 'not-found');
	});
});

describe('authorization', () => {
	it('lets viewers read, and answers 403 to their writes and test runs', async () => {
		const tool = await created(greet({ name: 'guarded' }));
		expect((await get(base(), viewer)).status).toBe(200);
		expect((await get(`${base()}/${tool.id}`, viewer)).status).toBe(200);
		await expectProblem(await post(greet({ name: 'by_viewer' }), viewer), 403, 'forbidden');
		await expectProblem(await patch(tool.id, { description: 'x' }, viewer), 403, 'forbidden');
		await expectProblem(await remove(tool.id, viewer), 403, 'forbidden');
		await expectProblem(
			await testRun(tool.id, { input: { name: 'Ada' } }, viewer),
			403,
			'forbidden'
		);
	});

	it('lets editors manage and test', async () => {
		const tool = await created(greet({ name: 'by_editor' }), editor);
		expect((await patch(tool.id, { description: 'Edited.' }, editor)).status).toBe(200);
		expect((await testRun(tool.id, { input: { name: 'Ed' } }, editor)).status).toBe(200);
		expect((await remove(tool.id, editor)).status).toBe(204);
	});

	it('answers 404 across workspaces, as for ids that do not exist', async () => {
		const mine = await created(greet({ name: 'not_yours' }));
		const missing = await get(`${base()}/${randomUUID()}`);
		const missingBody = await missing.text();
		expect(missing.status).toBe(404);
		for (const response of [
			await get(base(), outsider),
			await get(`${base()}/${mine.id}`, outsider),
			await post(greet({ name: 'planted' }), outsider),
			await patch(mine.id, { name: 'taken' }, outsider),
			await remove(mine.id, outsider),
			await testRun(mine.id, { input: { name: 'x' } }, outsider)
		])
			await expectProblem(response, 404, 'not-found');
		// This workspace's tool id under the outsider's own workspace.
		const crossed = await get(`${base(otherWorkspace)}/${mine.id}`, outsider);
		expect(crossed.status).toBe(404);
		expect(await crossed.text()).toBe(missingBody);
		await expectProblem(await remove(mine.id, outsider, otherWorkspace), 404, 'not-found');
		await expectProblem(
			await testRun(mine.id, { input: { name: 'x' } }, outsider, otherWorkspace),
			404,
			'not-found'
		);
		for (const id of ['not-a-uuid', `${randomUUID()}x`, '0'.repeat(36)])
			await expectProblem(await get(`${base()}/${id}`), 404, 'not-found');
		expect((await get(`${base()}/${mine.id}`)).status).toBe(200);
	});

	it('needs the write scope on an API token to manage, read to list', async () => {
		const form = await owner.postForm('/settings/tokens?/create', {
			name: 'tools read only',
			scopes: 'read',
			expiresInDays: '7'
		});
		const token = /awe_[a-z2-7]+/.exec(await form.text())?.[0];
		if (!token) throw new Error('no token issued');
		const reader = new TestClient(app.url);
		const auth = { authorization: `Bearer ${token}` };
		expect((await reader.request(base(), { headers: auth })).status).toBe(200);
		await expectProblem(
			await reader.json(base(), 'POST', greet({ name: 'by_token' }), auth),
			403,
			'forbidden'
		);
	});
});

describe('the tools page', () => {
	const page = () => `/workspaces/${workspace}/tools`;
	const html = async (path: string, client = owner) =>
		(await client.request(path, { headers: { accept: 'text/html' } })).text();

	it('lists built-in and custom tools with risk and approval, and links from the workspace tabs', async () => {
		const response = await owner.request(page(), { headers: { accept: 'text/html' } });
		expect(response.status).toBe(200);
		const text = await response.text();
		for (const name of ['http_request', 'current_time', 'greet', 'writer'])
			expect(text).toContain(name);
		expect(text).toContain('Built-in');
		expect(text).toContain('Required');
		expect(text).toMatch(
			new RegExp(`href="[./]*/workspaces/${workspace}/tools" aria-current="page"`)
		);
		expect(await html(`/workspaces/${workspace}`)).toContain(`/workspaces/${workspace}/tools"`);
		// Viewers see the list but no forms.
		const forViewer = await html(page(), viewer);
		expect(forViewer).toContain('greet');
		expect(forViewer).not.toContain('New tool');
	});

	it('shows a JSON error under the schema, then creates, edits, tries and deletes through the forms', async () => {
		const fields = {
			intent: 'create',
			name: 'form_tool',
			description: 'Made in the form.',
			risk: 'write',
			requiresApproval: 'on',
			inputSchema: '{"type": "object", "properties": {"n": {"type": "number"}}',
			source: 'return input.n * 2;'
		};
		const failed = await owner.postForm(`${page()}?/create`, fields);
		expect(failed.status).toBe(400);
		const failedHtml = await failed.text();
		expect(failedHtml).toMatch(/<span class="field-error"[^>]*>The schema is not valid JSON: /);
		// What was typed comes back in the form.
		expect(failedHtml).toContain('Made in the form.');
		const unusable = await owner.postForm(`${page()}?/create`, {
			...fields,
			inputSchema: '{"type": "string"}'
		});
		expect(unusable.status).toBe(400);
		expect(await unusable.text()).toContain('must describe an object');

		const saved = await owner.postForm(`${page()}?/create`, {
			...fields,
			inputSchema: '{"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}'
		});
		expect(saved.status).toBe(200);
		const list = (await (await get(base())).json()) as ListedTool[];
		const tool = list.find((item) => item.name === 'form_tool');
		expect(tool).toMatchObject({ risk: 'write', requiresApproval: true, builtIn: false });
		const id = tool?.id ?? '';

		expect(await html(`${page()}?edit=${id}`)).toContain('Try it');
		const updated = await owner.postForm(`${page()}?edit=${id}&/update`, {
			...fields,
			intent: 'update',
			toolId: id,
			requiresApproval: [],
			allowFetch: 'on',
			inputSchema: '{"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}',
			source: 'return input.n * 3;'
		});
		expect(updated.status).toBe(200);
		expect(await (await get(`${base()}/${id}`)).json()).toMatchObject({
			requiresApproval: false,
			allowFetch: true,
			source: 'return input.n * 3;'
		});

		const tried = await owner.postForm(`${page()}?edit=${id}&/test`, {
			intent: 'test',
			toolId: id,
			input: '{"n": 14}'
		});
		expect(tried.status).toBe(200);
		expect(await tried.text()).toMatch(/<pre class="json[^"]*">42<\/pre>/);
		const badInput = await owner.postForm(`${page()}?edit=${id}&/test`, {
			intent: 'test',
			toolId: id,
			input: '{"n": "x"}'
		});
		expect(badInput.status).toBe(400);
		expect(await badInput.text()).toMatch(/class="field-error"[^>]*>Invalid input at n/);

		const deleted = await owner.postForm(`${page()}?edit=${id}&/delete`, {
			intent: 'delete',
			toolId: id
		});
		expect(deleted.status).toBe(200);
		expect((await get(`${base()}/${id}`)).status).toBe(404);
	});

	it('answers 403 to a viewer’s form post, with the reason', async () => {
		const response = await viewer.postForm(`${page()}?/create`, {
			intent: 'create',
			name: 'by_viewer_form',
			description: 'x',
			risk: 'read',
			inputSchema: '{"type": "object"}',
			source: 'return 1;'
		});
		expect(response.status).toBe(403);
		expect(formMessage(await response.text())).toMatch(/does not allow/);
	});
});
