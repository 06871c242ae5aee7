import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { expectProblem, signUpFirst, signUpInvited } from '../security/support.ts';

/**
 * Model providers, saved agents, the price table and workspace budgets through the JSON API, against
 * the production build. No response may carry a secret of the credentials the providers use.
 */

const app = useAppServer();

interface ProviderBody {
	id: string;
	name: string;
	kind: string;
	baseUrl: string | null;
	credential: { id: string; name: string } | null;
	defaultModel: string;
	concurrency: number;
	timeoutMs: number;
	script: unknown[] | null;
}

interface AgentBody {
	id: string;
	name: string;
	provider: { id: string; name: string; kind: string };
	model: string | null;
	temperature: number | null;
	tools: Record<string, unknown>[];
	limits: Record<string, unknown>;
	outputSchema: Record<string, unknown> | null;
}

type Problem = { errors?: Record<string, string>; title: string };

let owner: TestClient;
let editor: TestClient;
let viewer: TestClient;
let outsider: TestClient;
let workspace: string;
let otherWorkspace: string;
/** Credentials of the workspace by kind, and one of the outsider's workspace. */
const keys: Record<string, string> = {};
const secrets = ['sk-openai-agents-test-0123456789', 'sk-ant-agents-test-9876543210'];
let foreignKey: string;

const api = (path: string, workspaceId = workspace) => `/api/v1/workspaces/${workspaceId}${path}`;
const send = (client: TestClient, method: string, path: string, body?: unknown) =>
	body === undefined
		? client.request(path, { method, headers: { origin: client.origin } })
		: client.json(path, method, body);

async function ok<T>(response: Response, status = 200): Promise<T> {
	const text = await response.text();
	expect(response.status, text).toBe(status);
	for (const secret of secrets) expect(text).not.toContain(secret);
	return JSON.parse(text) as T;
}

async function credential(client: TestClient, workspaceId: string, body: Record<string, unknown>) {
	return (
		await ok<{ id: string }>(
			await send(client, 'POST', api('/credentials', workspaceId), body),
			201
		)
	).id;
}

const scripted = (overrides: Record<string, unknown> = {}) => ({
	kind: 'scripted',
	name: 'Scripted',
	defaultModel: 'fixed',
	script: [{ text: 'Hello.' }],
	...overrides
});

const createProvider = async (body: Record<string, unknown>, client = owner) =>
	ok<ProviderBody>(await send(client, 'POST', api('/providers'), body), 201);

const createAgent = async (body: Record<string, unknown>, client = owner) =>
	ok<AgentBody>(await send(client, 'POST', api('/agents'), body), 201);

async function auditActions(action: string): Promise<{ targetId: string; details: unknown }[]> {
	return ok(await owner.request(`/api/v1/audit?action=${action}`));
}

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = first.client;
	workspace = first.workspaceId;
	editor = (await signUpInvited(app.url, owner, workspace, 'editor')).client;
	viewer = (await signUpInvited(app.url, owner, workspace, 'viewer')).client;
	const lobby = await owner.json('/api/v1/workspaces', 'POST', { name: 'Lobby' });
	const lobbyId = ((await lobby.json()) as { id: string }).id;
	outsider = (await signUpInvited(app.url, owner, lobbyId, 'viewer')).client;
	const other = await outsider.json('/api/v1/workspaces', 'POST', { name: 'Elsewhere' });
	otherWorkspace = ((await other.json()) as { id: string }).id;
	keys.openai = await credential(owner, workspace, {
		kind: 'openai',
		name: 'OpenAI key',
		apiKey: secrets[0]
	});
	keys.anthropic = await credential(owner, workspace, {
		kind: 'anthropic',
		name: 'Claude key',
		apiKey: secrets[1]
	});
	keys.bearer = await credential(owner, workspace, {
		kind: 'bearer',
		name: 'Shop token',
		token: 'shop-token-for-agents'
	});
	foreignKey = await credential(outsider, otherWorkspace, {
		kind: 'openai',
		name: 'Their key',
		apiKey: 'sk-theirs-0000000000000'
	});
});

describe('model providers', () => {
	it('creates one of each kind, naming the credential without its secret', async () => {
		const openai = await createProvider({
			kind: 'openai',
			name: 'OpenAI',
			credentialId: keys.openai,
			defaultModel: 'gpt-4.1-mini'
		});
		expect(openai).toMatchObject({
			kind: 'openai',
			baseUrl: null,
			credential: { id: keys.openai, name: 'OpenAI key' },
			concurrency: 4,
			timeoutMs: 120_000,
			script: null
		});
		await createProvider({
			kind: 'openai-compatible',
			name: 'Local Ollama',
			baseUrl: 'http://127.0.0.1:11434/v1',
			defaultModel: 'llama3.2'
		});
		await createProvider({
			kind: 'anthropic',
			name: 'Claude',
			credentialId: keys.anthropic,
			defaultModel: 'claude-sonnet-4-5',
			concurrency: 2,
			timeoutMs: 60_000
		});
		const fixed = await createProvider(scripted());
		expect(fixed).toMatchObject({
			credential: null,
			script: [{ text: 'Hello.', toolCalls: [] }]
		});
		const list = await ok<ProviderBody[]>(await viewer.request(api('/providers')));
		expect(list.map((provider) => provider.name)).toEqual([
			'Claude',
			'Local Ollama',
			'OpenAI',
			'Scripted'
		]);
		const read = await ok<ProviderBody>(await viewer.request(api(`/providers/${openai.id}`)));
		expect(read).toEqual(openai);
		const logged = await auditActions('provider.create');
		expect(logged.map((entry) => entry.targetId)).toContain(openai.id);
	});

	it('updates and deletes, keeping the kind', async () => {
		const provider = await createProvider(scripted({ name: 'Changing' }));
		const updated = await ok<ProviderBody>(
			await send(owner, 'PATCH', api(`/providers/${provider.id}`), {
				name: 'Changed',
				defaultModel: 'other',
				script: [{ text: 'One.' }, { text: 'Two.' }]
			})
		);
		expect(updated).toMatchObject({ name: 'Changed', defaultModel: 'other', kind: 'scripted' });
		expect(updated.script).toHaveLength(2);
		// The kind cannot be changed, nor can a scripted provider gain a key.
		await expectProblem(
			await send(owner, 'PATCH', api(`/providers/${provider.id}`), { kind: 'openai' }),
			400,
			'invalid'
		);
		const keyed = (await expectProblem(
			await send(owner, 'PATCH', api(`/providers/${provider.id}`), { credentialId: keys.openai }),
			400,
			'invalid'
		)) as Problem;
		expect(Object.keys(keyed.errors ?? {})).toEqual(['credentialId']);
		// What a patch leaves out is kept, defaults included.
		const renamed = await ok<ProviderBody>(
			await send(owner, 'PATCH', api(`/providers/${provider.id}`), { concurrency: 9 })
		);
		expect(renamed).toMatchObject({ name: 'Changed', concurrency: 9, timeoutMs: 120_000 });
		expect(renamed.script).toHaveLength(2);
		expect(await send(owner, 'DELETE', api(`/providers/${provider.id}`))).toHaveProperty(
			'status',
			204
		);
		await expectProblem(await owner.request(api(`/providers/${provider.id}`)), 404, 'not-found');
		const logged = await auditActions('provider.delete');
		expect(logged.map((entry) => entry.targetId)).toContain(provider.id);
		const changes = await auditActions('provider.update');
		expect(
			changes
				.filter((entry) => entry.targetId === provider.id)
				.map((entry) => (entry.details as { changed: string[] }).changed)
		).toEqual([['concurrency'], ['name', 'defaultModel', 'script']]);
	});

	it('answers 400 naming the field: bad kind, missing base URL or script, wrong credential', async () => {
		const fieldsOf = async (body: unknown) =>
			Object.keys(
				(
					(await expectProblem(
						await send(owner, 'POST', api('/providers'), body),
						400,
						'invalid'
					)) as Problem
				).errors ?? {}
			);
		expect(await fieldsOf({ kind: 'vertex', name: 'x', defaultModel: 'm' })).toEqual(['kind']);
		expect(
			await fieldsOf({ kind: 'openai-compatible', name: 'No URL', defaultModel: 'm' })
		).toEqual(['baseUrl']);
		expect(await fieldsOf({ kind: 'scripted', name: 'No script', defaultModel: 'm' })).toEqual([
			'script'
		]);
		expect(
			await fieldsOf({
				kind: 'openai-compatible',
				name: 'Bad URL',
				baseUrl: 'http://user:pw@example.com/v1',
				defaultModel: 'm'
			})
		).toEqual(['baseUrl']);
		// A key of another kind, a credential of another workspace, one that does not exist, none.
		for (const credentialId of [keys.anthropic, keys.bearer, foreignKey, randomUUID(), null])
			expect(
				await fieldsOf({ kind: 'openai', name: 'Keyed', credentialId, defaultModel: 'm' })
			).toEqual(['credentialId']);
		expect(
			await fieldsOf(scripted({ name: 'Scripted with key', credentialId: keys.openai }))
		).toEqual(['credentialId']);
		expect(await fieldsOf(scripted({ name: 'a\u0000b' }))).toEqual(['name']);
		expect(await fieldsOf(scripted({ name: 'lone \ud800 surrogate' }))).toEqual(['name']);
		expect(await fieldsOf(scripted({ name: 'x'.repeat(101) }))).toEqual(['name']);
		expect(await fieldsOf(scripted({ concurrency: 0 }))).toEqual(['concurrency']);
	});

	it('refuses a body over the size limit with 413 and a name taken in any case with 409', async () => {
		const huge = scripted({ script: [{ text: 'y'.repeat(90_000) }], name: 'z'.repeat(600 * 1024) });
		await expectProblem(await send(owner, 'POST', api('/providers'), huge), 413, 'too-large');
		await createProvider(scripted({ name: 'Unique' }));
		await expectProblem(
			await send(owner, 'POST', api('/providers'), scripted({ name: 'UNIQUE' })),
			409,
			'conflict'
		);
	});

	it('refuses to delete a provider agents use, naming them (409)', async () => {
		const provider = await createProvider(scripted({ name: 'In use' }));
		await createAgent({ name: 'Helper one', providerId: provider.id });
		await createAgent({ name: 'Helper two', providerId: provider.id });
		const refused = await expectProblem(
			await send(owner, 'DELETE', api(`/providers/${provider.id}`)),
			409,
			'conflict'
		);
		expect(refused.title).toContain('“Helper one”, “Helper two”');
		expect((await owner.request(api(`/providers/${provider.id}`))).status).toBe(200);
	});

	it('refuses to delete a credential a provider uses, naming it (409)', async () => {
		const key = await credential(owner, workspace, {
			kind: 'openai',
			name: 'Busy key',
			apiKey: 'sk-busy-key-000000000000'
		});
		await createProvider({ kind: 'openai', name: 'Busy', credentialId: key, defaultModel: 'm' });
		const refused = await expectProblem(
			await send(owner, 'DELETE', api(`/credentials/${key}`)),
			409,
			'conflict'
		);
		expect(refused.title).toContain('“Busy”');
	});
});

describe('saved agents', () => {
	let provider: ProviderBody;
	let toolId: string;
	let publishedWorkflow: string;
	let draftWorkflow: string;

	beforeAll(async () => {
		provider = await createProvider(scripted({ name: 'For agents', defaultModel: 'script-1' }));
		const tool = await send(owner, 'POST', api('/tools'), {
			name: 'shout',
			description: 'Shouts.',
			inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
			source: 'return input.text.toUpperCase();',
			risk: 'read'
		});
		toolId = (await ok<{ id: string }>(tool, 201)).id;
		const flow = await ok<{ id: string }>(
			await send(owner, 'POST', api('/workflows'), { name: 'Lookup' }),
			201
		);
		await ok(await send(owner, 'POST', api(`/workflows/${flow.id}/versions/1/publish`), {}));
		publishedWorkflow = flow.id;
		draftWorkflow = (
			await ok<{ id: string }>(await send(owner, 'POST', api('/workflows'), { name: 'Draft' }), 201)
		).id;
	});

	it('creates with defaults, reads, updates and deletes', async () => {
		const agent = await createAgent({ name: 'Plain', providerId: provider.id });
		expect(agent).toMatchObject({
			description: '',
			instructions: '',
			provider: { id: provider.id, name: 'For agents', kind: 'scripted' },
			model: null,
			temperature: null,
			tools: [],
			limits: { maxTurns: 10 },
			outputSchema: null
		});
		const full = await createAgent({
			name: 'Researcher',
			description: 'Looks things up.',
			instructions: 'Be brief.',
			providerId: provider.id,
			model: 'script-2',
			temperature: 0.2,
			tools: [
				{
					type: 'builtin',
					name: 'http_request',
					requiresApproval: true,
					credentials: [{ host: 'shop.example.com', credentialId: keys.bearer }]
				},
				{ type: 'builtin', name: 'current_time' },
				{ type: 'custom', toolId },
				{ type: 'workflow', workflowId: publishedWorkflow, name: 'lookup' }
			],
			limits: { maxTurns: 5, maxTokens: 10_000, maxCostUsd: 0.5 },
			outputSchema: { type: 'object', properties: { answer: { type: 'string' } } }
		});
		expect(full.tools).toHaveLength(4);
		expect(full.outputSchema).toEqual({
			type: 'object',
			properties: { answer: { type: 'string' } }
		});
		const read = await ok<AgentBody>(await viewer.request(api(`/agents/${full.id}`)));
		expect(read).toEqual(full);
		const listed = await ok<AgentBody[]>(await viewer.request(api('/agents')));
		expect(listed.map((item) => item.name)).toEqual(
			expect.arrayContaining(['Plain', 'Researcher'])
		);

		const updated = await ok<AgentBody>(
			await send(editor, 'PATCH', api(`/agents/${agent.id}`), {
				instructions: 'New.',
				tools: [{ type: 'custom', toolId }]
			})
		);
		expect(updated).toMatchObject({ instructions: 'New.', tools: [{ type: 'custom', toolId }] });
		// What a patch leaves out is kept, defaults included.
		const renamed = await ok<AgentBody>(
			await send(editor, 'PATCH', api(`/agents/${full.id}`), { name: 'Researcher 2' })
		);
		expect(renamed).toEqual({ ...full, name: 'Researcher 2', updatedAt: expect.any(String) });
		expect((await send(editor, 'DELETE', api(`/agents/${agent.id}`))).status).toBe(204);
		await expectProblem(await owner.request(api(`/agents/${agent.id}`)), 404, 'not-found');
		const created = await auditActions('agent.create');
		expect(created.map((entry) => entry.targetId)).toEqual(
			expect.arrayContaining([agent.id, full.id])
		);
		expect((await auditActions('agent.update')).map((entry) => entry.targetId)).toContain(agent.id);
		expect((await auditActions('agent.delete')).map((entry) => entry.targetId)).toContain(agent.id);
	});

	it('answers 400 naming each reference that is not this workspace’s', async () => {
		const theirs = await ok<ProviderBody>(
			await send(outsider, 'POST', api('/providers', otherWorkspace), scripted()),
			201
		);
		const problem = (await expectProblem(
			await send(owner, 'POST', api('/agents'), {
				name: 'Dangling',
				providerId: theirs.id,
				tools: [
					{ type: 'custom', toolId: randomUUID() },
					{ type: 'workflow', workflowId: draftWorkflow },
					{ type: 'workflow', workflowId: randomUUID() },
					{
						type: 'builtin',
						name: 'http_request',
						credentials: [
							{ host: 'a.example', credentialId: keys.bearer },
							{ host: 'b.example', credentialId: foreignKey }
						]
					},
					{
						type: 'builtin',
						name: 'run_code',
						credentials: [{ host: 'c', credentialId: keys.bearer }]
					},
					{ type: 'custom', toolId }
				]
			}),
			400,
			'invalid'
		)) as Problem;
		expect(Object.keys(problem.errors ?? {})).toEqual(['providerId']);
		const tools = (await expectProblem(
			await send(owner, 'POST', api('/agents'), {
				name: 'Dangling',
				providerId: provider.id,
				tools: [
					{ type: 'custom', toolId: randomUUID() },
					{ type: 'workflow', workflowId: draftWorkflow },
					{ type: 'workflow', workflowId: randomUUID() },
					{
						type: 'builtin',
						name: 'http_request',
						credentials: [
							{ host: 'a.example', credentialId: keys.bearer },
							{ host: 'b.example', credentialId: foreignKey }
						]
					},
					{
						type: 'builtin',
						name: 'run_code',
						credentials: [{ host: 'c', credentialId: keys.bearer }]
					},
					{ type: 'custom', toolId },
					{ type: 'custom', toolId }
				]
			}),
			400,
			'invalid'
		)) as Problem;
		expect(tools.errors).toEqual({
			'tools.0.toolId': expect.any(String),
			'tools.1.workflowId': expect.stringContaining('no published version'),
			'tools.2.workflowId': expect.any(String),
			'tools.3.credentials.1.credentialId': expect.any(String),
			'tools.4.credentials': expect.any(String),
			'tools.6': 'This tool is listed twice.'
		});
		const shape = (await expectProblem(
			await send(owner, 'POST', api('/agents'), {
				name: 'Bad shape',
				providerId: provider.id,
				tools: [{ type: 'builtin', name: 'rm_rf' }],
				outputSchema: { type: 'array' },
				limits: { maxTurns: 0 }
			}),
			400,
			'invalid'
		)) as Problem;
		expect(Object.keys(shape.errors ?? {}).sort()).toEqual([
			'limits.maxTurns',
			'outputSchema',
			'tools.0.name'
		]);
		await expectProblem(
			await send(owner, 'POST', api('/agents'), {
				name: 'Huge',
				providerId: provider.id,
				instructions: 'y'.repeat(700 * 1024)
			}),
			413,
			'too-large'
		);
		const names = await ok<AgentBody[]>(await owner.request(api('/agents')));
		expect(names.map((agent) => agent.name)).not.toContain('Dangling');
	});

	it('refuses an update that points at something missing', async () => {
		const agent = await createAgent({ name: 'Steady', providerId: provider.id });
		const problem = (await expectProblem(
			await send(owner, 'PATCH', api(`/agents/${agent.id}`), {
				providerId: randomUUID(),
				tools: [{ type: 'custom', toolId: randomUUID() }]
			}),
			400,
			'invalid'
		)) as Problem;
		expect(Object.keys(problem.errors ?? {})).toEqual(['providerId']);
		await expectProblem(
			await send(owner, 'PATCH', api(`/agents/${agent.id}`), { name: 'nul\u0000' }),
			400,
			'invalid'
		);
		expect(await ok<AgentBody>(await owner.request(api(`/agents/${agent.id}`)))).toEqual(agent);
	});
});

describe('authorization', () => {
	it('lets viewers read and refuses their writes (403)', async () => {
		const provider = await createProvider(scripted({ name: 'Guarded' }));
		const agent = await createAgent({ name: 'Guarded agent', providerId: provider.id });
		expect((await viewer.request(api('/providers'))).status).toBe(200);
		expect((await viewer.request(api('/agents'))).status).toBe(200);
		for (const [method, path, body] of [
			['POST', api('/providers'), scripted({ name: 'By viewer' })],
			['PATCH', api(`/providers/${provider.id}`), { name: 'x' }],
			['DELETE', api(`/providers/${provider.id}`)],
			['POST', api('/agents'), { name: 'By viewer', providerId: provider.id }],
			['PATCH', api(`/agents/${agent.id}`), { name: 'x' }],
			['DELETE', api(`/agents/${agent.id}`)]
		] as [string, string, unknown?][])
			await expectProblem(await send(viewer, method, path, body), 403, 'forbidden');
	});

	it('answers 404 to another workspace’s member, as to ids that do not exist', async () => {
		const provider = await createProvider(scripted({ name: 'Private' }));
		const agent = await createAgent({ name: 'Private agent', providerId: provider.id });
		for (const [method, path, body] of [
			['GET', api('/providers')],
			['GET', api(`/providers/${provider.id}`)],
			['PATCH', api(`/providers/${provider.id}`), { name: 'Taken' }],
			['DELETE', api(`/providers/${provider.id}`)],
			['GET', api('/agents')],
			['GET', api(`/agents/${agent.id}`)],
			['DELETE', api(`/agents/${agent.id}`)],
			['GET', api('/budget')],
			['GET', api('/usage')],
			// This workspace's ids under the outsider's own workspace.
			['GET', api(`/providers/${provider.id}`, otherWorkspace)],
			['GET', api(`/agents/${agent.id}`, otherWorkspace)]
		] as [string, string, unknown?][])
			await expectProblem(await send(outsider, method, path, body), 404, 'not-found');
		for (const id of ['not-a-uuid', `${randomUUID()}x`])
			for (const path of [`/providers/${id}`, `/agents/${id}`])
				await expectProblem(await owner.request(api(path)), 404, 'not-found');
		expect((await owner.request(api(`/agents/${agent.id}`))).status).toBe(200);
	});
});

describe('model prices', () => {
	const prices = '/api/v1/admin/model-prices';
	const price = {
		providerKind: 'openai',
		model: 'gpt-4.1-mini',
		inputPerMillion: 0.4,
		outputPerMillion: 1.6
	};

	it('lets the instance admin list, set, change and delete prices', async () => {
		expect(await ok(await owner.request(prices))).toEqual([]);
		expect(await ok(await send(owner, 'PUT', prices, price))).toMatchObject({
			...price,
			cachedInputPerMillion: null
		});
		await ok(await send(owner, 'PUT', prices, { ...price, cachedInputPerMillion: 0.1 }));
		expect(await ok(await owner.request(prices))).toEqual([
			expect.objectContaining({ ...price, cachedInputPerMillion: 0.1 })
		]);
		expect((await auditActions('model_price.set')).length).toBe(2);
		const key = `providerKind=openai&model=${encodeURIComponent(price.model)}`;
		expect((await send(owner, 'DELETE', `${prices}?${key}`)).status).toBe(204);
		await expectProblem(await send(owner, 'DELETE', `${prices}?${key}`), 404, 'not-found');
		expect(await ok(await owner.request(prices))).toEqual([]);
		await expectProblem(
			await send(owner, 'PUT', prices, { ...price, inputPerMillion: -1 }),
			400,
			'invalid'
		);
		await expectProblem(await send(owner, 'DELETE', `${prices}?providerKind=x`), 400, 'invalid');
	});

	it('refuses everyone else (403), workspace owners included', async () => {
		const signedUp = await signUpInvited(app.url, owner, workspace, 'owner');
		for (const client of [editor, viewer, outsider, signedUp.client]) {
			await expectProblem(await client.request(prices), 403, 'forbidden');
			await expectProblem(await send(client, 'PUT', prices, price), 403, 'forbidden');
			await expectProblem(
				await send(client, 'DELETE', `${prices}?providerKind=openai&model=m`),
				403,
				'forbidden'
			);
		}
	});
});

describe('workspace budget and usage', () => {
	it('sets and clears the monthly limits (owners and admins), shown with this month’s spend', async () => {
		const initial = await ok<Record<string, unknown>>(await viewer.request(api('/budget')));
		expect(initial).toMatchObject({
			monthlyCostLimitUsd: null,
			monthlyTokenLimit: null,
			month: { costUsd: 0, tokens: 0 }
		});
		const set = await ok(
			await send(owner, 'PUT', api('/budget'), {
				monthlyCostLimitUsd: 25.5,
				monthlyTokenLimit: 2_000_000
			})
		);
		expect(set).toMatchObject({ monthlyCostLimitUsd: 25.5, monthlyTokenLimit: 2_000_000 });
		expect(await ok(await viewer.request(api('/budget')))).toMatchObject(set as object);
		for (const client of [editor, viewer])
			await expectProblem(
				await send(client, 'PUT', api('/budget'), {
					monthlyCostLimitUsd: 1,
					monthlyTokenLimit: null
				}),
				403,
				'forbidden'
			);
		await expectProblem(
			await send(owner, 'PUT', api('/budget'), { monthlyCostLimitUsd: -5, monthlyTokenLimit: 1.5 }),
			400,
			'invalid'
		);
		const cleared = await ok(
			await send(owner, 'PUT', api('/budget'), {
				monthlyCostLimitUsd: null,
				monthlyTokenLimit: null
			})
		);
		expect(cleared).toMatchObject({ monthlyCostLimitUsd: null, monthlyTokenLimit: null });
		expect((await auditActions('workspace.budget_changed')).length).toBe(2);
	});

	it('reads usage grouped by workflow, model and day, and refuses bad spans', async () => {
		for (const groupBy of ['workflow', 'model', 'day']) {
			const report = await ok<{ groups: unknown[]; total: Record<string, number> }>(
				await viewer.request(api(`/usage?groupBy=${groupBy}&from=2026-01-01&to=2026-02-01`))
			);
			expect(report).toMatchObject({
				groupBy,
				from: '2026-01-01T00:00:00.000Z',
				to: '2026-02-01T00:00:00.000Z',
				groups: [],
				total: { requests: 0, costUsd: 0, unpricedRequests: 0 }
			});
		}
		await expectProblem(await owner.request(api('/usage?groupBy=user')), 400, 'invalid');
		await expectProblem(await owner.request(api('/usage?from=yesterday')), 400, 'invalid');
		await expectProblem(
			await owner.request(api('/usage?from=2026-02-01&to=2026-01-01')),
			400,
			'invalid'
		);
		await expectProblem(
			await owner.request(api('/usage?from=2020-01-01&to=2026-01-01')),
			400,
			'invalid'
		);
	});
});

describe('the pages', () => {
	const page = (path: string) => `/workspaces/${workspace}${path}`;
	const html = async (client: TestClient, path: string) => {
		const response = await client.request(path, { headers: { accept: 'text/html' } });
		expect(response.status).toBe(200);
		return response.text();
	};

	it('list providers with the scripted ones labelled, reached from the workspace tabs', async () => {
		const text = await html(viewer, page('/providers'));
		expect(text).toContain('Scripted — fixed replies for tests');
		expect(text).toContain('OpenAI key');
		expect(text).toMatch(
			new RegExp(`href="[./]*/workspaces/${workspace}/providers" aria-current="page"`)
		);
		expect(text).toMatch(new RegExp(`href="[./]*/workspaces/${workspace}/agents"`));
		for (const secret of secrets) expect(text).not.toContain(secret);
		// A viewer gets no form.
		expect(text).not.toContain('Save provider');
	});

	it('create a provider through the form, keeping the input of a failed submit', async () => {
		const failed = await owner.postForm(page('/providers?kind=scripted&/create'), {
			intent: 'create',
			kind: 'scripted',
			name: 'Form scripted',
			defaultModel: 'fixed',
			concurrency: '2',
			timeoutMs: '',
			script: '[{"text": "unclosed"'
		});
		expect(failed.status).toBe(400);
		const text = await failed.text();
		expect(text).toContain('value="Form scripted"');
		expect(text).toMatch(/class="field-error"[^>]*>[^<]*JSON/);
		const saved = await owner.postForm(page('/providers?kind=scripted&/create'), {
			intent: 'create',
			kind: 'scripted',
			name: 'Form scripted',
			defaultModel: 'fixed',
			concurrency: '2',
			timeoutMs: '',
			script: '[{"text": "From the form."}]'
		});
		expect(saved.status).toBe(200);
		const list = await ok<ProviderBody[]>(await owner.request(api('/providers')));
		expect(list.find((provider) => provider.name === 'Form scripted')).toMatchObject({
			concurrency: 2,
			timeoutMs: 120_000,
			script: [{ text: 'From the form.' }]
		});
		const viewerPost = await viewer.postForm(page('/providers?/create'), {
			intent: 'create',
			kind: 'scripted',
			name: 'By viewer',
			defaultModel: 'm',
			script: '[{"text": "x"}]'
		});
		expect(viewerPost.status).toBe(403);
	});

	it('create and edit an agent through the form, with tools picked from lists', async () => {
		const provider = (await ok<ProviderBody[]>(await owner.request(api('/providers')))).find(
			(item) => item.name === 'Form scripted'
		);
		if (!provider) throw new Error('no provider');
		const form = await html(owner, page('/agents'));
		expect(form).toContain('Form scripted (Scripted — fixed replies for tests)');
		const fields = {
			intent: 'create',
			name: 'Form agent',
			description: 'Made on the page.',
			instructions: 'Answer briefly.',
			providerId: provider.id,
			model: '',
			temperature: '0.5',
			maxTurns: '4',
			maxTokens: '',
			maxCostUsd: '0.25',
			'builtin:http_request': 'on',
			'approve:http_request': 'on',
			'host:0': 'shop.example.com',
			'hostCredential:0': keys.bearer ?? '',
			'host:1': '',
			'hostCredential:1': '',
			'builtin:current_time': 'on',
			outputSchema: ''
		};
		const failed = await owner.postForm(page('/agents?/create'), { ...fields, providerId: '' });
		expect(failed.status).toBe(400);
		const failedText = await failed.text();
		expect(failedText).toContain('value="Form agent"');
		expect(failedText).toContain('Answer briefly.');
		const saved = await owner.postForm(page('/agents?/create'), fields);
		expect(saved.status).toBe(200);
		const agents = await ok<AgentBody[]>(await owner.request(api('/agents')));
		const agent = agents.find((item) => item.name === 'Form agent');
		expect(agent).toMatchObject({
			model: null,
			temperature: 0.5,
			limits: { maxTurns: 4, maxCostUsd: 0.25 },
			tools: [
				{
					type: 'builtin',
					name: 'http_request',
					requiresApproval: true,
					credentials: [{ host: 'shop.example.com', credentialId: keys.bearer }]
				},
				{ type: 'builtin', name: 'current_time', requiresApproval: false, credentials: [] }
			],
			outputSchema: null
		});
		if (!agent) throw new Error('no agent');
		const edit = await html(owner, page(`/agents?edit=${agent.id}`));
		expect(edit).toContain('Edit “Form agent”');
		const updated = await owner.postForm(page(`/agents?edit=${agent.id}&/update`), {
			...fields,
			intent: 'update',
			agentId: agent.id,
			name: 'Form agent 2',
			'builtin:http_request': '',
			outputSchema: '{"type": "object"}'
		});
		expect(updated.status).toBe(200);
		expect(await ok<AgentBody>(await owner.request(api(`/agents/${agent.id}`)))).toMatchObject({
			name: 'Form agent 2',
			tools: [{ type: 'builtin', name: 'current_time' }],
			outputSchema: { type: 'object' }
		});
		const deleted = await owner.postForm(page(`/agents?edit=${agent.id}&/delete`), {
			intent: 'delete',
			agentId: agent.id
		});
		expect(deleted.status).toBe(200);
		expect((await owner.request(api(`/agents/${agent.id}`))).status).toBe(404);
	});

	it('show the month’s spending to members and let owners set the limits', async () => {
		const viewerText = await html(viewer, page(''));
		expect(viewerText).toContain('Model spending');
		expect(viewerText).not.toContain('Save limits');
		const refused = await owner.postForm(page('?/budget'), {
			intent: 'budget',
			monthlyCostLimitUsd: '-1',
			monthlyTokenLimit: ''
		});
		expect(refused.status).toBe(400);
		const saved = await owner.postForm(page('?/budget'), {
			intent: 'budget',
			monthlyCostLimitUsd: '12.5',
			monthlyTokenLimit: ''
		});
		expect(saved.status).toBe(200);
		expect(await ok(await owner.request(api('/budget')))).toMatchObject({
			monthlyCostLimitUsd: 12.5,
			monthlyTokenLimit: null
		});
		const byEditor = await editor.postForm(page('?/budget'), {
			intent: 'budget',
			monthlyCostLimitUsd: '1',
			monthlyTokenLimit: ''
		});
		expect(byEditor.status).toBe(403);
	});

	it('let the instance admin set prices on the admin page, and nobody else', async () => {
		const text = await html(owner, '/admin/prices');
		expect(text).toContain('a model that has no price here costs 0');
		const saved = await owner.postForm('/admin/prices?/set', {
			intent: 'set',
			providerKind: 'anthropic',
			model: 'claude-haiku-4-5',
			inputPerMillion: '1',
			outputPerMillion: '5',
			cachedInputPerMillion: ''
		});
		expect(saved.status).toBe(200);
		expect(await ok(await owner.request('/api/v1/admin/model-prices'))).toEqual([
			expect.objectContaining({
				providerKind: 'anthropic',
				model: 'claude-haiku-4-5',
				inputPerMillion: 1,
				outputPerMillion: 5,
				cachedInputPerMillion: null
			})
		]);
		const blank = await owner.postForm('/admin/prices?/set', {
			intent: 'set',
			providerKind: 'anthropic',
			model: 'no-price',
			inputPerMillion: '',
			outputPerMillion: '5'
		});
		expect(blank.status).toBe(400);
		const page403 = await editor.request('/admin/prices', { headers: { accept: 'text/html' } });
		expect(page403.status).toBe(403);
		await page403.body?.cancel();
		const post403 = await editor.postForm('/admin/prices?/set', {
			intent: 'set',
			providerKind: 'openai',
			model: 'x',
			inputPerMillion: '1',
			outputPerMillion: '1'
		});
		expect(post403.status).toBe(403);
		await post403.body?.cancel();
	});
});
