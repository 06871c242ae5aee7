import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { signUpFirst, signUpInvited } from './support.ts';

/**
 * A member of one workspace probing another: every answer is the 404 a workspace that does not exist
 * gets, byte for byte, so ids cannot be confirmed (never a 403, which would say "it exists").
 */

const app = useAppServer();

let owner: {
	client: TestClient;
	userId: string;
	w1: string;
	w2: string;
	w2Invite: string;
	w2Workflow: string;
	w2Run: string;
	w2Credential: string;
	w2Tool: string;
	w2Provider: string;
	w2Agent: string;
};
let stranger: { client: TestClient; userId: string };

const toolBody = {
	name: 'secret_tool',
	description: 'Returns what it is given.',
	inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
	source: 'return input;',
	risk: 'read'
};

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	const me = (await (await first.client.request('/api/v1/me')).json()) as { id: string };
	const created = await first.client.json('/api/v1/workspaces', 'POST', { name: 'Secret W2' });
	expect(created.status).toBe(201);
	const w2 = ((await created.json()) as { id: string }).id;
	const invite = await first.client.json(`/api/v1/workspaces/${w2}/invites`, 'POST', {
		role: 'editor'
	});
	const w2Invite = ((await invite.json()) as { id: string }).id;
	const workflow = await first.client.json(`/api/v1/workspaces/${w2}/workflows`, 'POST', {
		name: 'Secret flow'
	});
	expect(workflow.status).toBe(201);
	const w2Workflow = ((await workflow.json()) as { id: string }).id;
	const flow = `/api/v1/workspaces/${w2}/workflows/${w2Workflow}`;
	const published = await first.client.json(`${flow}/versions/1/publish`, 'POST', {});
	expect(published.status).toBe(200);
	const run = await first.client.json(`${flow}/runs`, 'POST', { input: {} });
	expect(run.status).toBe(201);
	const w2Run = ((await run.json()) as { run: { id: string } }).run.id;
	const credential = await first.client.json(`/api/v1/workspaces/${w2}/credentials`, 'POST', {
		kind: 'bearer',
		name: 'Secret credential',
		token: 'w2-bearer-token-value'
	});
	expect(credential.status).toBe(201);
	const w2Credential = ((await credential.json()) as { id: string }).id;
	const tool = await first.client.json(`/api/v1/workspaces/${w2}/tools`, 'POST', toolBody);
	expect(tool.status).toBe(201);
	const w2Tool = ((await tool.json()) as { id: string }).id;
	const provider = await first.client.json(`/api/v1/workspaces/${w2}/providers`, 'POST', {
		kind: 'scripted',
		name: 'Secret provider',
		defaultModel: 'fixed',
		script: [{ text: 'Secret.' }]
	});
	expect(provider.status).toBe(201);
	const w2Provider = ((await provider.json()) as { id: string }).id;
	const agent = await first.client.json(`/api/v1/workspaces/${w2}/agents`, 'POST', {
		name: 'Secret agent',
		providerId: w2Provider,
		instructions: 'Keep secrets.'
	});
	expect(agent.status).toBe(201);
	const w2Agent = ((await agent.json()) as { id: string }).id;
	owner = {
		client: first.client,
		userId: me.id,
		w1: first.workspaceId,
		w2,
		w2Invite,
		w2Workflow,
		w2Run,
		w2Credential,
		w2Tool,
		w2Provider,
		w2Agent
	};
	const member = await signUpInvited(app.url, first.client, first.workspaceId, 'viewer');
	stranger = { client: member.client, userId: member.userId };
});

type Probe = { name: string; method: string; path: (w: string) => string; body?: unknown };

const probes: Probe[] = [
	{ name: 'read the workspace', method: 'GET', path: (w) => `/api/v1/workspaces/${w}` },
	{
		name: 'rename the workspace',
		method: 'PATCH',
		path: (w) => `/api/v1/workspaces/${w}`,
		body: { name: 'Taken over' }
	},
	{ name: 'list members', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/members` },
	{ name: 'list invites', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/invites` },
	{
		name: 'create an invite',
		method: 'POST',
		path: (w) => `/api/v1/workspaces/${w}/invites`,
		body: { role: 'owner' }
	},
	{
		name: 'revoke an invite',
		method: 'DELETE',
		path: (w) => `/api/v1/workspaces/${w}/invites/${owner.w2Invite}`
	},
	{
		name: 'change a member’s role',
		method: 'PATCH',
		path: (w) => `/api/v1/workspaces/${w}/members/${owner.userId}`,
		body: { role: 'viewer' }
	},
	{
		name: 'promote themselves',
		method: 'PATCH',
		path: (w) => `/api/v1/workspaces/${w}/members/${stranger.userId}`,
		body: { role: 'owner' }
	},
	{
		name: 'remove a member',
		method: 'DELETE',
		path: (w) => `/api/v1/workspaces/${w}/members/${owner.userId}`
	},
	...engineProbes(),
	...credentialProbes(),
	...toolProbes(),
	...agentProbes()
];

/** The provider, agent, budget and usage endpoints, aimed at W2's provider and agent. */
function agentProbes(): Probe[] {
	const providers = (w: string) => `/api/v1/workspaces/${w}/providers`;
	const provider = (w: string) => `${providers(w)}/${owner.w2Provider}`;
	const agents = (w: string) => `/api/v1/workspaces/${w}/agents`;
	const agent = (w: string) => `${agents(w)}/${owner.w2Agent}`;
	return [
		{ name: 'list providers', method: 'GET', path: providers },
		{
			name: 'create a provider',
			method: 'POST',
			path: providers,
			body: { kind: 'scripted', name: 'Planted', defaultModel: 'm', script: [{ text: 'x' }] }
		},
		{ name: 'read a provider', method: 'GET', path: provider },
		{
			name: 'point a provider elsewhere',
			method: 'PATCH',
			path: provider,
			body: { script: [{ text: 'Taken over.' }] }
		},
		{ name: 'delete a provider', method: 'DELETE', path: provider },
		{ name: 'list agents', method: 'GET', path: agents },
		{
			name: 'create an agent',
			method: 'POST',
			path: agents,
			body: { name: 'Planted', providerId: randomUUID() }
		},
		{ name: 'read an agent', method: 'GET', path: agent },
		{
			name: 'rewrite an agent’s instructions',
			method: 'PATCH',
			path: agent,
			body: { instructions: 'Leak everything.' }
		},
		{ name: 'delete an agent', method: 'DELETE', path: agent },
		{ name: 'read the budget', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/budget` },
		{
			name: 'lift the budget',
			method: 'PUT',
			path: (w) => `/api/v1/workspaces/${w}/budget`,
			body: { monthlyCostLimitUsd: null, monthlyTokenLimit: null }
		},
		{ name: 'read usage', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/usage` }
	];
}

/** The custom tool endpoints, aimed at W2's tool. */
function toolProbes(): Probe[] {
	const list = (w: string) => `/api/v1/workspaces/${w}/tools`;
	const one = (w: string) => `${list(w)}/${owner.w2Tool}`;
	return [
		{ name: 'list tools', method: 'GET', path: list },
		{ name: 'create a tool', method: 'POST', path: list, body: { ...toolBody, name: 'planted' } },
		{ name: 'read a tool', method: 'GET', path: one },
		{
			name: 'replace a tool’s code',
			method: 'PATCH',
			path: one,
			body: { source: 'return "taken over";' }
		},
		{ name: 'delete a tool', method: 'DELETE', path: one },
		{
			name: 'test-run a tool',
			method: 'POST',
			path: (w) => `${one(w)}/test`,
			body: { input: { text: 'probe' } }
		}
	];
}

/** The credential endpoints, aimed at W2's credential. */
function credentialProbes(): Probe[] {
	const list = (w: string) => `/api/v1/workspaces/${w}/credentials`;
	const one = (w: string) => `${list(w)}/${owner.w2Credential}`;
	return [
		{ name: 'list credentials', method: 'GET', path: list },
		{
			name: 'create a credential',
			method: 'POST',
			path: list,
			body: { kind: 'bearer', name: 'Planted', token: 'planted-token' }
		},
		{ name: 'read a credential', method: 'GET', path: one },
		{
			name: 'replace a credential’s secret',
			method: 'PATCH',
			path: one,
			body: { token: 'attacker-token' }
		},
		{ name: 'delete a credential', method: 'DELETE', path: one }
	];
}

/** The workflow, run and approval endpoints, aimed at W2's workflow and run. */
function engineProbes(): Probe[] {
	const workflows = (w: string) => `/api/v1/workspaces/${w}/workflows`;
	const flow = (w: string) => `${workflows(w)}/${owner.w2Workflow}`;
	const run = (w: string) => `/api/v1/workspaces/${w}/runs/${owner.w2Run}`;
	const definition = {
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'done', kind: 'output' }
		],
		edges: [{ from: 'start', to: 'done' }]
	};
	return [
		{ name: 'list workflows', method: 'GET', path: workflows },
		{
			name: 'create a workflow',
			method: 'POST',
			path: workflows,
			body: { name: 'Planted', definition }
		},
		{
			name: 'import a workflow',
			method: 'POST',
			path: (w) => `${workflows(w)}/import`,
			body: { format: 'awe.workflow/v1', name: 'Planted', description: '', definition }
		},
		{ name: 'read a workflow', method: 'GET', path: flow },
		{ name: 'rename a workflow', method: 'PATCH', path: flow, body: { name: 'Taken over' } },
		{ name: 'delete a workflow', method: 'DELETE', path: flow },
		{
			name: 'validate a definition',
			method: 'POST',
			path: (w) => `${flow(w)}/validate`,
			body: { definition }
		},
		{ name: 'list versions', method: 'GET', path: (w) => `${flow(w)}/versions` },
		{
			name: 'save a version',
			method: 'POST',
			path: (w) => `${flow(w)}/versions`,
			body: { definition, publish: true }
		},
		{ name: 'read a version', method: 'GET', path: (w) => `${flow(w)}/versions/1` },
		{
			name: 'publish a version',
			method: 'POST',
			path: (w) => `${flow(w)}/versions/1/publish`,
			body: {}
		},
		{ name: 'diff versions', method: 'GET', path: (w) => `${flow(w)}/diff?from=1&to=1` },
		{ name: 'export a workflow', method: 'GET', path: (w) => `${flow(w)}/export` },
		{ name: 'start a run', method: 'POST', path: (w) => `${flow(w)}/runs`, body: { input: {} } },
		{ name: 'list runs', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/runs` },
		{ name: 'read a run', method: 'GET', path: run },
		{ name: 'read run steps', method: 'GET', path: (w) => `${run(w)}/steps` },
		{ name: 'read run events', method: 'GET', path: (w) => `${run(w)}/events` },
		{ name: 'cancel a run', method: 'POST', path: (w) => `${run(w)}/cancel`, body: {} },
		{ name: 'retry a run', method: 'POST', path: (w) => `${run(w)}/retry`, body: {} },
		{
			name: 're-run a run',
			method: 'POST',
			path: (w) => `${run(w)}/rerun`,
			body: { fromNodeId: 'start' }
		},
		{ name: 'list approvals', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/approvals` },
		{
			name: 'decide an approval',
			method: 'POST',
			path: (w) => `/api/v1/workspaces/${w}/approvals/${randomUUID()}`,
			body: { decision: 'approve' }
		}
	];
}

// Ids that are not workspace ids; some pass a loose /^[0-9a-f-]{36}$/ check but are not UUIDs.
const malformedIds = [
	'not-a-uuid',
	'123',
	"1' or '1'='1",
	`${randomUUID()}x`,
	'-'.repeat(36),
	'0'.repeat(36),
	'%00'
];

async function call(client: TestClient, probe: Probe, workspaceId: string) {
	const response =
		probe.body === undefined
			? await client.request(probe.path(workspaceId), {
					method: probe.method,
					headers: { origin: client.origin }
				})
			: await client.json(probe.path(workspaceId), probe.method, probe.body);
	return {
		status: response.status,
		type: response.headers.get('content-type'),
		body: await response.text()
	};
}

describe.each(probes)('a member of another workspace cannot $name', (probe) => {
	it('gets 404 for a workspace that exists but is not theirs, identical to one that does not exist', async () => {
		const theirs = await call(stranger.client, probe, owner.w2);
		const missing = await call(stranger.client, probe, randomUUID());
		expect(theirs.status).toBe(404);
		expect(theirs.type).toBe('application/problem+json');
		expect(theirs).toEqual(missing);
		// Upper-case spelling of the same id: still not theirs.
		expect(await call(stranger.client, probe, owner.w2.toUpperCase())).toEqual(missing);
	});

	it.each(malformedIds)('gets the same 404 for the malformed id %j', async (id) => {
		const missing = await call(stranger.client, probe, randomUUID());
		expect(await call(stranger.client, probe, id)).toEqual(missing);
	});
});

describe('nothing changed', () => {
	it('W2 still has its name, its owner and its invite; the stranger is no member', async () => {
		const workspace = await owner.client.request(`/api/v1/workspaces/${owner.w2}`);
		expect(await workspace.json()).toMatchObject({ name: 'Secret W2', role: 'owner' });
		const members = (await (
			await owner.client.request(`/api/v1/workspaces/${owner.w2}/members`)
		).json()) as { userId: string; role: string }[];
		expect(members).toEqual([expect.objectContaining({ userId: owner.userId, role: 'owner' })]);
		const invites = (await (
			await owner.client.request(`/api/v1/workspaces/${owner.w2}/invites`)
		).json()) as { id: string; role: string }[];
		expect(invites).toEqual([expect.objectContaining({ id: owner.w2Invite, role: 'editor' })]);
		const listed = (await (await stranger.client.request('/api/v1/workspaces')).json()) as {
			id: string;
		}[];
		expect(listed.map((workspace) => workspace.id)).toEqual([owner.w1]);
	});

	it('W2 still has exactly its one workflow, unpublished beyond version 1, and its one run', async () => {
		const base = `/api/v1/workspaces/${owner.w2}`;
		const workflows = (await (await owner.client.request(`${base}/workflows`)).json()) as {
			id: string;
			name: string;
			latestVersion: number;
			publishedNumber: number;
		}[];
		expect(workflows).toEqual([
			expect.objectContaining({
				id: owner.w2Workflow,
				name: 'Secret flow',
				latestVersion: 1,
				publishedNumber: 1
			})
		]);
		const { runs } = (await (await owner.client.request(`${base}/runs`)).json()) as {
			runs: { id: string; status: string }[];
		};
		expect(runs.map((run) => run.id)).toEqual([owner.w2Run]);
		expect(runs[0]?.status).not.toBe('cancelled');
	});
});

describe('W2’s credential', () => {
	it('is still there, unchanged, and still the only one', async () => {
		const response = await owner.client.request(`/api/v1/workspaces/${owner.w2}/credentials`);
		expect(await response.json()).toEqual([
			expect.objectContaining({
				id: owner.w2Credential,
				name: 'Secret credential',
				hint: '••••alue'
			})
		]);
	});
});

describe('W2’s tool', () => {
	it('is still there, unchanged, and still the only custom one', async () => {
		const base = `/api/v1/workspaces/${owner.w2}/tools`;
		const listed = (await (await owner.client.request(base)).json()) as { builtIn: boolean }[];
		expect(listed.filter((tool) => !tool.builtIn)).toEqual([
			expect.objectContaining({ id: owner.w2Tool, name: 'secret_tool' })
		]);
		const tool = await owner.client.request(`${base}/${owner.w2Tool}`);
		expect(await tool.json()).toMatchObject(toolBody);
	});
});

describe('W2’s provider and agent', () => {
	it('are still there, unchanged, and still the only ones', async () => {
		const base = `/api/v1/workspaces/${owner.w2}`;
		const providers = await owner.client.request(`${base}/providers`);
		expect(await providers.json()).toEqual([
			expect.objectContaining({
				id: owner.w2Provider,
				name: 'Secret provider',
				script: [{ text: 'Secret.', toolCalls: [] }]
			})
		]);
		const agents = await owner.client.request(`${base}/agents`);
		expect(await agents.json()).toEqual([
			expect.objectContaining({
				id: owner.w2Agent,
				name: 'Secret agent',
				instructions: 'Keep secrets.'
			})
		]);
	});
});

describe('malformed ids inside one’s own workspace', () => {
	it.each(malformedIds)(
		'member, invite and token ids like %j answer 404, never 500',
		async (id) => {
			const client = owner.client;
			const remove = (path: string) =>
				client.request(path, { method: 'DELETE', headers: { origin: client.origin } });
			const responses = {
				changeRole: await client.json(`/api/v1/workspaces/${owner.w1}/members/${id}`, 'PATCH', {
					role: 'viewer'
				}),
				removeMember: await remove(`/api/v1/workspaces/${owner.w1}/members/${id}`),
				revokeInvite: await remove(`/api/v1/workspaces/${owner.w1}/invites/${id}`),
				revokeToken: await remove(`/api/v1/tokens/${id}`)
			};
			const statuses = Object.fromEntries(
				Object.entries(responses).map(([name, response]) => [name, response.status])
			);
			for (const response of Object.values(responses)) await response.body?.cancel();
			expect(statuses).toEqual({
				changeRole: 404,
				removeMember: 404,
				revokeInvite: 404,
				revokeToken: 404
			});
		}
	);
});

describe('malformed workflow, version, run and approval ids', () => {
	it.each(malformedIds)('like %j answer 404, never 500', async (id) => {
		const client = owner.client;
		const base = `/api/v1/workspaces/${owner.w1}`;
		const flow = `/api/v1/workspaces/${owner.w2}/workflows/${owner.w2Workflow}`;
		const requests: [string, string, unknown?][] = [
			['GET', `${base}/workflows/${id}`],
			['PATCH', `${base}/workflows/${id}`, { name: 'x' }],
			['DELETE', `${base}/workflows/${id}`],
			['GET', `${base}/workflows/${id}/versions`],
			['GET', `${base}/workflows/${id}/versions/1`],
			['POST', `${base}/workflows/${id}/versions/1/publish`, {}],
			['GET', `${base}/workflows/${id}/diff?from=1&to=1`],
			['GET', `${base}/workflows/${id}/export`],
			['POST', `${base}/workflows/${id}/runs`, { input: {} }],
			['GET', `${flow}/versions/${id}`],
			['GET', `${base}/runs/${id}`],
			['GET', `${base}/runs/${id}/steps`],
			['GET', `${base}/runs/${id}/events`],
			['POST', `${base}/runs/${id}/cancel`, {}],
			['POST', `${base}/runs/${id}/retry`, {}],
			['POST', `${base}/runs/${id}/rerun`, { fromNodeId: 'start' }],
			['POST', `${base}/approvals/${id}`, { decision: 'approve' }],
			['GET', `${base}/credentials/${id}`],
			['PATCH', `${base}/credentials/${id}`, { name: 'x' }],
			['DELETE', `${base}/credentials/${id}`],
			['GET', `${base}/tools/${id}`],
			['PATCH', `${base}/tools/${id}`, { description: 'x' }],
			['DELETE', `${base}/tools/${id}`],
			['POST', `${base}/tools/${id}/test`, { input: {} }]
		];
		const statuses: Record<string, number> = {};
		for (const [method, path, body] of requests) {
			const response =
				body === undefined
					? await client.request(path, { method, headers: { origin: client.origin } })
					: await client.json(path, method, body);
			statuses[`${method} ${path}`] = response.status;
			await response.body?.cancel();
		}
		expect(statuses).toEqual(
			Object.fromEntries(requests.map(([method, path]) => [`${method} ${path}`, 404]))
		);
	});
});

describe('pages and form actions of another workspace', () => {
	it('answer 404 to the page, exactly as for a workspace that does not exist', async () => {
		const theirs = await stranger.client.request(`/workspaces/${owner.w2}`, {
			headers: { accept: 'text/html' }
		});
		const missing = await stranger.client.request(`/workspaces/${randomUUID()}`, {
			headers: { accept: 'text/html' }
		});
		expect(theirs.status).toBe(404);
		expect(missing.status).toBe(404);
		const mine = await stranger.client.request(`/workspaces/${owner.w1}`, {
			headers: { accept: 'text/html' }
		});
		expect(mine.status).toBe(200);
	});

	it.each([
		['rename', { name: 'Taken over' }],
		['invite', { role: 'owner', expiresInDays: '7' }],
		['changeRole', { userId: '', role: 'owner' }],
		['remove', { userId: '' }],
		['leave', {}]
	])('refuse the %s action with 404 and change nothing', async (action, fields) => {
		const body = Object.fromEntries(
			Object.entries(fields).map(([key, value]) => [key, value || owner.userId])
		);
		const response = await stranger.client.postForm(`/workspaces/${owner.w2}?/${action}`, body);
		expect(response.status).toBe(404);
		const workspace = await owner.client.request(`/api/v1/workspaces/${owner.w2}`);
		expect(await workspace.json()).toMatchObject({ name: 'Secret W2', role: 'owner' });
	});
});
