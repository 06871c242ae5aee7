import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient } from '../helpers/http-client.ts';
import { expectProblem, formMessage, signUpFirst, signUpInvited } from '../security/support.ts';

/**
 * Workspace credentials through the JSON API and the page, against the production build. Every body
 * the server sends back is kept, and none may hold a secret that was sent to it.
 */

const app = useAppServer();

interface CredentialBody {
	id: string;
	kind: string;
	name: string;
	hint: string;
	headerName?: string;
	username?: string;
	baseUrl?: string | null;
	organization?: string | null;
	createdAt: string;
	updatedAt: string;
	lastUsedAt: string | null;
}

const sentSecrets = new Set<string>();
/** Secrets long enough to look for (a one-letter test token would be found everywhere). */
function remember(secret: unknown) {
	if (typeof secret === 'string' && secret.length >= 8) sentSecrets.add(secret);
}
const bodies: string[] = [];

/** Keeps the body for the final check; the response is returned readable. */
async function kept(response: Response): Promise<Response> {
	const text = await response.text();
	bodies.push(text);
	const body = response.status === 204 ? null : text;
	return new Response(body, { status: response.status, headers: response.headers });
}

let owner: TestClient;
let editor: TestClient;
let viewer: TestClient;
let outsider: TestClient;
let workspace: string;
let otherWorkspace: string;

const base = (workspaceId = workspace) => `/api/v1/workspaces/${workspaceId}/credentials`;

async function post(body: Record<string, unknown>, client = owner, workspaceId = workspace) {
	for (const field of ['key', 'token', 'password', 'value', 'apiKey']) remember(body[field]);
	return kept(await client.json(base(workspaceId), 'POST', body));
}

async function created(body: Record<string, unknown>, client = owner) {
	const response = await post(body, client);
	expect(response.status).toBe(201);
	return (await response.json()) as CredentialBody;
}

async function get(path: string, client = owner) {
	return kept(await client.request(path, { headers: { accept: 'application/json' } }));
}

async function patch(id: string, body: Record<string, unknown>, client = owner) {
	for (const field of ['key', 'token', 'password', 'value', 'apiKey']) remember(body[field]);
	return kept(await client.json(`${base()}/${id}`, 'PATCH', body));
}

async function remove(id: string, client = owner, workspaceId = workspace) {
	return kept(
		await client.request(`${base(workspaceId)}/${id}`, {
			method: 'DELETE',
			headers: { origin: client.origin }
		})
	);
}

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
	it('creates each kind, answering 201 with its settings and a hint', async () => {
		const cases: [Record<string, unknown>, Partial<CredentialBody>][] = [
			[
				{ kind: 'api_key', name: 'Weather', key: 'wx-0123456789abcdef' },
				{ headerName: 'X-API-Key', hint: '••••cdef' }
			],
			[{ kind: 'bearer', name: 'GitHub', token: 'ghp_short' }, { hint: '••••' }],
			[
				{ kind: 'basic', name: 'Legacy', username: 'ada', password: 'pw-ada-lovelace-1815' },
				{ username: 'ada', hint: '••••1815' }
			],
			[
				{
					kind: 'header',
					name: 'Shop',
					headerName: 'X-Shop-Token',
					value: 'shop-token-value-0042'
				},
				{ headerName: 'X-Shop-Token', hint: '••••0042' }
			],
			[
				{
					kind: 'openai',
					name: 'OpenAI',
					apiKey: 'sk-proj-openai-test-key-9999',
					baseUrl: 'https://api.openai.com/v1',
					organization: 'org-test'
				},
				{ baseUrl: 'https://api.openai.com/v1', organization: 'org-test', hint: '••••9999' }
			],
			[
				{ kind: 'anthropic', name: 'Claude', apiKey: 'sk-ant-api03-test-key-7777' },
				{ baseUrl: null, hint: '••••7777' }
			]
		];
		for (const [input, expected] of cases) {
			const credential = await created(input);
			expect(credential).toMatchObject({
				kind: input.kind,
				name: input.name,
				lastUsedAt: null,
				...expected
			});
			expect(credential.id).toMatch(/^[0-9a-f-]{36}$/);
		}
		const list = (await (await get(base())).json()) as CredentialBody[];
		expect(list.map((credential) => credential.name)).toEqual([
			'Claude',
			'GitHub',
			'Legacy',
			'OpenAI',
			'Shop',
			'Weather'
		]);
	});

	it('reads, updates and deletes one credential', async () => {
		const credential = await created({
			kind: 'header',
			name: 'Rotating',
			headerName: 'X-Key',
			value: 'first-header-value-AAAA'
		});
		const read = await get(`${base()}/${credential.id}`);
		expect(await read.json()).toEqual(credential);

		const renamed = await patch(credential.id, {
			name: 'Rotated',
			headerName: 'X-Other',
			value: ''
		});
		expect(renamed.status).toBe(200);
		expect(await renamed.json()).toMatchObject({
			name: 'Rotated',
			headerName: 'X-Other',
			hint: '••••AAAA'
		});
		const replaced = await patch(credential.id, { value: 'second-header-value-BBBB' });
		expect(await replaced.json()).toMatchObject({ name: 'Rotated', hint: '••••BBBB' });

		const deleted = await remove(credential.id);
		expect(deleted.status).toBe(204);
		await expectProblem(await get(`${base()}/${credential.id}`), 404, 'not-found');
		await expectProblem(await remove(credential.id), 404, 'not-found');
	});
});

describe('validation', () => {
	it('answers 400 problem+json naming each bad field, without echoing a secret', async () => {
		const bad = await expectProblem(
			await post({
				kind: 'header',
				name: '',
				headerName: 'Bad Header',
				value: 'secret-with\r\nnewline-4242'
			}),
			400,
			'invalid'
		);
		expect(Object.keys((bad as unknown as { errors: object }).errors).sort()).toEqual([
			'headerName',
			'name',
			'value'
		]);
		await expectProblem(await post({ kind: 'vault', name: 'x' }), 400, 'invalid');
		await expectProblem(
			await post({ kind: 'openai', name: 'x', apiKey: 'k', baseUrl: 'file:///etc/passwd' }),
			400,
			'invalid'
		);
		await expectProblem(
			await post({ kind: 'bearer', name: 'x'.repeat(101), token: 't' }),
			400,
			'invalid'
		);
		await expectProblem(
			await post({ kind: 'bearer', name: 'Long', token: 't'.repeat(4097) }),
			400,
			'invalid'
		);
		const notJson = await owner.request(base(), {
			method: 'POST',
			body: 'kind=bearer',
			headers: { origin: owner.origin, 'content-type': 'application/x-www-form-urlencoded' }
		});
		await expectProblem(await kept(notJson), 415, 'invalid-body');
	});

	it('answers 400 to an update that does not fit the kind', async () => {
		const credential = await created({
			kind: 'basic',
			name: 'Strict',
			username: 'grace',
			password: 'strict-password'
		});
		const bad = await expectProblem(
			await patch(credential.id, { username: 'a:b', password: 'good-password' }),
			400,
			'invalid'
		);
		expect((bad as unknown as { errors: object }).errors).toEqual({
			username: expect.any(String)
		});
		// Text that cannot be stored is refused at the door, before the kind's own rules.
		const unstorable = await expectProblem(
			await patch(credential.id, { password: 'nul\u0000in-password' }),
			400,
			'invalid'
		);
		expect((unstorable as unknown as { errors: object }).errors).toEqual({
			password: expect.stringContaining('U+0000')
		});
		await expectProblem(await patch(credential.id, { name: ' ' }), 400, 'invalid');
		await expectProblem(await patch(credential.id, { password: 42 }), 400, 'invalid');
	});

	it('answers 409 to a name the workspace already uses, in any case', async () => {
		await created({ kind: 'bearer', name: 'Unique', token: 'unique-token-1' });
		await expectProblem(
			await post({ kind: 'bearer', name: 'unique', token: 'unique-token-2' }),
			409,
			'conflict'
		);
		const second = await created({ kind: 'bearer', name: 'Second', token: 'second-token' });
		await expectProblem(await patch(second.id, { name: 'UNIQUE' }), 409, 'conflict');
		// Another workspace may use the name.
		const elsewhere = await post(
			{ kind: 'bearer', name: 'Unique', token: 'elsewhere-token' },
			outsider,
			otherWorkspace
		);
		expect(elsewhere.status).toBe(201);
	});
});

describe('authorization', () => {
	it('lets viewers read, and answers 403 to their writes', async () => {
		const credential = await created({ kind: 'bearer', name: 'Guarded', token: 'guarded-token' });
		expect((await get(base(), viewer)).status).toBe(200);
		expect((await get(`${base()}/${credential.id}`, viewer)).status).toBe(200);
		await expectProblem(
			await post({ kind: 'bearer', name: 'By viewer', token: 'viewer-token' }, viewer),
			403,
			'forbidden'
		);
		await expectProblem(await patch(credential.id, { name: 'x' }, viewer), 403, 'forbidden');
		await expectProblem(await remove(credential.id, viewer), 403, 'forbidden');
	});

	it('lets editors manage', async () => {
		const credential = await created(
			{ kind: 'bearer', name: 'By editor', token: 'ed-token' },
			editor
		);
		expect((await patch(credential.id, { name: 'By editor 2' }, editor)).status).toBe(200);
		expect((await remove(credential.id, editor)).status).toBe(204);
	});

	it('answers 404 across workspaces, as for ids that do not exist', async () => {
		const mine = await created({ kind: 'bearer', name: 'Not yours', token: 'not-yours-token' });
		const missing = await get(`${base()}/${randomUUID()}`);
		const missingBody = await missing.text();
		expect(missing.status).toBe(404);
		// The outsider is no member of this workspace.
		for (const response of [
			await get(base(), outsider),
			await get(`${base()}/${mine.id}`, outsider),
			await post({ kind: 'bearer', name: 'Planted', token: 'planted-token' }, outsider),
			await patch(mine.id, { name: 'Taken' }, outsider),
			await remove(mine.id, outsider)
		])
			await expectProblem(response, 404, 'not-found');
		// A credential id of this workspace under the outsider's own workspace.
		const crossed = await get(`${base(otherWorkspace)}/${mine.id}`, outsider);
		expect(crossed.status).toBe(404);
		expect(await crossed.text()).toBe(missingBody);
		await expectProblem(await remove(mine.id, outsider, otherWorkspace), 404, 'not-found');
		for (const id of ['not-a-uuid', `${randomUUID()}x`, '0'.repeat(36)])
			await expectProblem(await get(`${base()}/${id}`), 404, 'not-found');
		expect((await get(`${base()}/${mine.id}`)).status).toBe(200);
	});

	it('needs the write scope on an API token to manage, read to list', async () => {
		const form = await owner.postForm('/settings/tokens?/create', {
			name: 'read only',
			scopes: 'read',
			expiresInDays: '7'
		});
		const token = /awe_[a-z2-7]+/.exec(await form.text())?.[0];
		if (!token) throw new Error('no token issued');
		const reader = new TestClient(app.url);
		const auth = { authorization: `Bearer ${token}` };
		expect((await kept(await reader.request(base(), { headers: auth }))).status).toBe(200);
		const write = await kept(
			await reader.json(base(), 'POST', { kind: 'bearer', name: 'By token', token: 'tok' }, auth)
		);
		await expectProblem(write, 403, 'forbidden');
	});
});

describe('the credentials page', () => {
	const page = () => `/workspaces/${workspace}/credentials`;

	it('lists names, kinds and hints, and links from the workspace tabs', async () => {
		const response = await kept(await owner.request(page(), { headers: { accept: 'text/html' } }));
		expect(response.status).toBe(200);
		const html = await response.text();
		expect(html).toContain('Weather');
		expect(html).toContain('••••cdef');
		expect(html).toMatch(
			new RegExp(`href="[./]*/workspaces/${workspace}/credentials" aria-current="page"`)
		);
		const data = await kept(await owner.request(`${page()}/__data.json`));
		expect(data.status).toBe(200);
	});

	it('creates through the form, and never echoes the secret after a failure', async () => {
		const secret = 'form-secret-value-abcdef-9876';
		remember(secret);
		const failed = await kept(
			await owner.postForm(`${page()}?kind=api_key&/create`, {
				intent: 'create',
				kind: 'api_key',
				name: 'Weather',
				headerName: 'X-API-Key',
				key: secret
			})
		);
		expect(failed.status).toBe(409);
		expect(formMessage(await failed.text())).toMatch(/already has a credential/);

		const saved = await kept(
			await owner.postForm(`${page()}?kind=api_key&/create`, {
				intent: 'create',
				kind: 'api_key',
				name: 'From the form',
				headerName: 'X-API-Key',
				key: secret
			})
		);
		expect(saved.status).toBe(200);
		const list = (await (await get(base())).json()) as CredentialBody[];
		expect(list.find((credential) => credential.name === 'From the form')).toMatchObject({
			hint: '••••9876'
		});
	});

	it('updates and deletes through the forms', async () => {
		const credential = await created({
			kind: 'bearer',
			name: 'Form edit',
			token: 'form-edit-token'
		});
		const edit = await kept(
			await owner.request(`${page()}?edit=${credential.id}`, { headers: { accept: 'text/html' } })
		);
		expect(await edit.text()).toContain('Edit “Form edit”');
		const updated = await kept(
			await owner.postForm(`${page()}?edit=${credential.id}&/update`, {
				intent: 'update',
				credentialId: credential.id,
				name: 'Form edited',
				token: ''
			})
		);
		expect(updated.status).toBe(200);
		expect(await (await get(`${base()}/${credential.id}`)).json()).toMatchObject({
			name: 'Form edited',
			hint: credential.hint
		});
		const deleted = await kept(
			await owner.postForm(`${page()}?edit=${credential.id}&/delete`, {
				intent: 'delete',
				credentialId: credential.id
			})
		);
		expect(deleted.status).toBe(200);
		expect((await get(`${base()}/${credential.id}`)).status).toBe(404);
	});

	it('answers 403 to a viewer’s form post', async () => {
		const response = await kept(
			await viewer.postForm(`${page()}?/create`, {
				intent: 'create',
				kind: 'bearer',
				name: 'By viewer',
				token: 'viewer-form-token'
			})
		);
		expect(response.status).toBe(403);
	});
});

describe('every response', () => {
	it('carried none of the secrets sent (runs last)', () => {
		expect(bodies.length).toBeGreaterThan(30);
		expect(sentSecrets.size).toBeGreaterThan(10);
		for (const body of bodies)
			for (const secret of sentSecrets) {
				expect(body).not.toContain(secret);
				expect(body).not.toContain(JSON.stringify(secret).slice(1, -1));
			}
	});
});
