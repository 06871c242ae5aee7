import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { expectProblem, signUpFirst, signUpInvited } from '../security/support.ts';

// "Test connection" against a fake model server over real HTTP, through the guarded client of the
// production build: the fake is on loopback, so the server is started with it allow-listed, as an
// operator would allow a local model server.

const apiKey = 'sk-connection-test-0123456789';
let fake: FakeLlm;
const env: Record<string, string> = {};
beforeAll(async () => {
	fake = await startFakeLlm({ apiKey, models: ['fake-model', 'fake-large'] });
	env.AWE_HTTP_ALLOW = `127.0.0.1:${fake.port}`;
});
// Reads `env` in its own beforeAll, after the one above has filled it in.
const app = useAppServer(env);
afterAll(() => fake?.close());

let owner: TestClient;
let viewer: TestClient;
let workspace: string;

const path = (suffix: string) => `/api/v1/workspaces/${workspace}${suffix}`;

async function created(response: Response): Promise<string> {
	const text = await response.text();
	expect(response.status, text).toBe(201);
	return (JSON.parse(text) as { id: string }).id;
}

async function provider(body: Record<string, unknown>): Promise<string> {
	return created(await owner.json(path('/providers'), 'POST', body));
}

async function test(providerId: string, client = owner) {
	const response = await client.request(path(`/providers/${providerId}/test`), {
		method: 'POST',
		headers: { origin: client.origin }
	});
	return response;
}

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = first.client;
	workspace = first.workspaceId;
	viewer = (await signUpInvited(app.url, owner, workspace, 'viewer')).client;
});

describe('testing a provider connection', () => {
	it('lists the models with the stored key and says whether the default model is there', async () => {
		const key = await created(
			await owner.json(path('/credentials'), 'POST', { kind: 'openai', name: 'Key', apiKey })
		);
		const id = await provider({
			kind: 'openai',
			name: 'Local OpenAI',
			baseUrl: `${fake.url}/v1`,
			credentialId: key,
			defaultModel: 'fake-model'
		});
		const response = await test(id);
		const text = await response.text();
		expect(response.status, text).toBe(200);
		expect(JSON.parse(text)).toEqual({
			ok: true,
			models: ['fake-model', 'fake-large'],
			modelListed: true
		});
		const listed = fake.requests.filter((request) => request.path === '/v1/models').at(-1);
		expect(listed?.headers.authorization).toBe(`Bearer ${apiKey}`);
	});

	it('reports a refused key without the key', async () => {
		const wrong = 'sk-wrong-key-000000000000';
		const key = await created(
			await owner.json(path('/credentials'), 'POST', {
				kind: 'anthropic',
				name: 'Wrong key',
				apiKey: wrong
			})
		);
		const id = await provider({
			kind: 'anthropic',
			name: 'Local Claude',
			baseUrl: `${fake.url}/v1`,
			credentialId: key,
			defaultModel: 'fake-model'
		});
		const text = await (await test(id)).text();
		expect(JSON.parse(text)).toMatchObject({ ok: false, code: 'auth_failed' });
		expect(text).not.toContain(wrong);
	});

	it('refuses a private address that is not allow-listed', async () => {
		const before = fake.requests.length;
		const id = await provider({
			kind: 'openai-compatible',
			name: 'Elsewhere on loopback',
			baseUrl: `http://127.0.0.2:${fake.port}/v1`,
			defaultModel: 'fake-model'
		});
		expect(await (await test(id)).json()).toMatchObject({ ok: false, code: 'blocked_address' });
		expect(fake.requests.length).toBe(before);
	});

	it('answers for a scripted provider without calling anything', async () => {
		const id = await provider({
			kind: 'scripted',
			name: 'Fixed',
			defaultModel: 'scripted-1',
			script: [{ text: 'Hi.' }]
		});
		expect(await (await test(id)).json()).toEqual({
			ok: true,
			models: ['scripted-1'],
			modelListed: true
		});
	});

	it('is for those who manage providers', async () => {
		const id = await provider({
			kind: 'scripted',
			name: 'Viewer test',
			defaultModel: 'scripted-1',
			script: [{ text: 'Hi.' }]
		});
		await expectProblem(await test(id, viewer), 403, 'forbidden');
		await expectProblem(await test('not-a-uuid'), 404, 'not-found');
	});
});
