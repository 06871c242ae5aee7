import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { expectProblem, signUpFirst, signUpInvited } from './support.ts';

/**
 * Attacks on triggers: ids used under the wrong workspace or workflow, ambient credentials on the
 * public webhook route, hostile bodies, and secrets leaking into the audit log.
 */

const app = useAppServer();

let owner: TestClient;
let stranger: TestClient;
let workspaceA: string;
let workspaceB: string;
let flowA: string;
let otherFlowA: string;
let flowB: string;
let hook: { id: string; path: string; secret: string };

const definition = {
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'done', kind: 'output' }
	],
	edges: [{ from: 'start', to: 'done' }]
};

async function workflow(client: TestClient, workspaceId: string, name: string) {
	const created = await client.json(`/api/v1/workspaces/${workspaceId}/workflows`, 'POST', {
		name,
		definition
	});
	expect(created.status).toBe(201);
	const { id } = (await created.json()) as { id: string };
	const published = await client.json(
		`/api/v1/workspaces/${workspaceId}/workflows/${id}/versions/1/publish`,
		'POST',
		{}
	);
	expect(published.status).toBe(200);
	return id;
}

const triggers = (workspaceId: string, workflowId: string, rest = '') =>
	`/api/v1/workspaces/${workspaceId}/workflows/${workflowId}/triggers${rest}`;

function callHook(path: string, body: string, headers: Record<string, string> = {}) {
	return fetch(new URL(path, app.url), {
		method: 'POST',
		body,
		headers: { 'content-type': 'application/json', ...headers }
	});
}

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = first.client;
	workspaceA = first.workspaceId;
	const created = await owner.json('/api/v1/workspaces', 'POST', { name: 'B' });
	workspaceB = ((await created.json()) as { id: string }).id;
	stranger = (await signUpInvited(app.url, owner, workspaceB, 'admin')).client;
	flowA = await workflow(owner, workspaceA, 'A one');
	otherFlowA = await workflow(owner, workspaceA, 'A two');
	flowB = await workflow(stranger, workspaceB, 'B one');
	const response = await owner.json(triggers(workspaceA, flowA), 'POST', {
		kind: 'webhook',
		name: 'A hook'
	});
	expect(response.status).toBe(201);
	hook = (await response.json()) as typeof hook;
});

describe('trigger ids outside their workspace and workflow', () => {
	it('answer 404 under another workflow of the same workspace', async () => {
		await expectProblem(await owner.request(triggers(workspaceA, otherFlowA, `/${hook.id}`)), 404);
		await expectProblem(
			await owner.json(triggers(workspaceA, otherFlowA, `/${hook.id}/rotate`), 'POST', {}),
			404
		);
	});

	it('answer 404 to a member of another workspace, whatever path they put the id in', async () => {
		const probes: [string, string, unknown?][] = [
			['GET', triggers(workspaceA, flowA)],
			['GET', triggers(workspaceA, flowA, `/${hook.id}`)],
			['PATCH', triggers(workspaceA, flowA, `/${hook.id}`), { enabled: false }],
			['DELETE', triggers(workspaceA, flowA, `/${hook.id}`)],
			['POST', triggers(workspaceA, flowA, `/${hook.id}/rotate`), {}],
			['GET', triggers(workspaceB, flowA, `/${hook.id}`)],
			['GET', triggers(workspaceB, flowB, `/${hook.id}`)],
			['PATCH', triggers(workspaceB, flowB, `/${hook.id}`), { enabled: false }],
			['DELETE', triggers(workspaceB, flowB, `/${hook.id}`)],
			['POST', triggers(workspaceB, flowB, `/${hook.id}/rotate`), {}]
		];
		for (const [method, path, body] of probes) {
			const response =
				method === 'GET'
					? await stranger.request(path)
					: await stranger.json(path, method, body ?? {});
			expect(response.status, `${method} ${path}`).toBe(404);
			await response.body?.cancel();
		}
		// Untouched: still enabled, and its token still works.
		const ok = await callHook(hook.path, '{"name":"a"}', {
			authorization: `Bearer ${hook.secret}`
		});
		expect(ok.status).toBe(202);
	});

	it('answer like a workspace that does not exist', async () => {
		const foreign = await stranger.request(triggers(workspaceA, flowA));
		const missing = await stranger.request(triggers(randomUUID(), flowA));
		expect(await foreign.text()).toBe(await missing.text());
	});
});

describe('the public webhook route', () => {
	it('does not take a session cookie as a credential', async () => {
		const response = await owner.request(hook.path, {
			method: 'POST',
			body: '{"name":"a"}',
			headers: { 'content-type': 'application/json', origin: owner.origin }
		});
		await expectProblem(response, 401, 'unauthorized');
	});

	it('takes cross-site form posts on its token alone: no token, no run', async () => {
		const post = (headers: Record<string, string>) =>
			fetch(new URL(hook.path, app.url), {
				method: 'POST',
				body: 'name=a',
				headers: {
					'content-type': 'application/x-www-form-urlencoded',
					origin: 'https://evil.example',
					...headers
				}
			});
		await expectProblem(await post({}), 401, 'unauthorized');
		// A visitor's session cookie, sent along by their browser, is no credential either.
		const cookie = [...owner.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
		await expectProblem(await post({ cookie }), 401, 'unauthorized');
		const accepted = await post({ authorization: `Bearer ${hook.secret}` });
		expect(accepted.status).toBe(202);
		await accepted.body?.cancel();
	});

	it("does not take one webhook's token for another's", async () => {
		const other = await owner.json(triggers(workspaceB, flowB), 'POST', {
			kind: 'webhook',
			name: 'B hook'
		});
		const b = (await other.json()) as typeof hook;
		await expectProblem(
			await callHook(b.path, '{"name":"a"}', { authorization: `Bearer ${hook.secret}` }),
			401
		);
	});
});

describe('hostile webhook bodies', () => {
	const withToken = (type: string) => ({
		'content-type': type,
		authorization: `Bearer ${hook.secret}`
	});

	it('refuse JSON nested too deep, and too many form fields, with 400', async () => {
		const deep = `{"name":"a","x":${'['.repeat(5_000)}${']'.repeat(5_000)}}`;
		const nested = await expectProblem(
			await callHook(hook.path, deep, withToken('application/json')),
			400,
			'invalid'
		);
		expect(nested.title).toMatch(/nested more than 32 levels/);
		const fields = Array.from({ length: 1_001 }, (_, i) => `f${i}=1`).join('&');
		const many = await expectProblem(
			await callHook(hook.path, fields, withToken('application/x-www-form-urlencoded')),
			400,
			'invalid'
		);
		expect(many.title).toBe('Send at most 1000 form fields.');
	});

	it('refuse NUL and unpaired surrogates with 400 naming the field, and bytes that are not UTF-8', async () => {
		for (const [type, body, field] of [
			['application/json', '{"name":"a\\u0000"}', 'name'],
			['application/json', '{"name":"\\ud800"}', 'name'],
			['application/x-www-form-urlencoded', 'name=a%00', 'name'],
			['text/plain', 'a\u0000b', 'text']
		] as const) {
			const refused = (await expectProblem(
				await callHook(hook.path, body, withToken(type)),
				400,
				'invalid'
			)) as unknown as { errors: Record<string, string> };
			expect(Object.keys(refused.errors), `${type} ${body}`).toEqual([field]);
		}
		const latin1 = await fetch(new URL(hook.path, app.url), {
			method: 'POST',
			body: Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3d, 0xe9]),
			headers: withToken('application/x-www-form-urlencoded')
		});
		const invalid = await expectProblem(latin1, 400, 'invalid');
		expect(invalid.title).toBe('The body is not valid UTF-8.');
	});

	it('refuse a charset it does not know with 415, before reading the body', async () => {
		const response = await callHook(
			hook.path,
			'{"name":"a"}',
			withToken('text/plain; charset=x-klingon')
		);
		expect(response.headers.get('connection')).toBe('close');
		const refused = await expectProblem(response, 415, 'unsupported-media-type');
		expect(refused.title).toMatch(/charset "x-klingon"/);
	});
});

describe('the audit log', () => {
	it('records each change to a trigger, and never its secret', async () => {
		const rotated = await owner.json(triggers(workspaceA, flowA, `/${hook.id}/rotate`), 'POST', {});
		const { secret } = (await rotated.json()) as { secret: string };
		await owner.json(triggers(workspaceA, flowA, `/${hook.id}`), 'PATCH', {
			config: { auth: 'hmac' }
		});
		const log = await owner.request('/api/v1/audit');
		expect(log.status).toBe(200);
		const text = await log.text();
		for (const action of ['trigger.create', 'trigger.rotate', 'trigger.update']) {
			expect(text).toContain(action);
		}
		expect(text).toContain(hook.id);
		expect(text).not.toContain(hook.secret);
		expect(text).not.toContain(secret);
		expect(text).not.toMatch(/awhs?_[a-z2-7]{20,}/);
	});
});

describe('a flood of refused webhook calls', () => {
	// Behind a proxy that names the caller, so this test's address is its own (with Redis, other
	// servers share the count of an address).
	const proxied = useAppServer({ ADDRESS_HEADER: 'x-forwarded-for', XFF_DEPTH: '1' });
	const address = `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

	it('is refused per address once 120 calls were refused, even on a webhook without a limit', async () => {
		const first = await signUpFirst(proxied.url);
		const created = await first.client.json(
			`/api/v1/workspaces/${first.workspaceId}/workflows`,
			'POST',
			{ name: 'Flooded', definition }
		);
		const { id: flowId } = (await created.json()) as { id: string };
		await first.client.json(
			`/api/v1/workspaces/${first.workspaceId}/workflows/${flowId}/versions/1/publish`,
			'POST',
			{}
		);
		const response = await first.client.json(triggers(first.workspaceId, flowId), 'POST', {
			kind: 'webhook',
			name: 'Unlimited',
			config: { rateLimitPerSecond: 0 }
		});
		const unlimited = (await response.json()) as typeof hook;
		const call = (token: string, from = address) =>
			fetch(new URL(unlimited.path, proxied.url), {
				method: 'POST',
				body: '{"name":"a"}',
				headers: {
					'content-type': 'application/json',
					authorization: `Bearer ${token}`,
					'x-forwarded-for': from
				}
			});
		const statuses = new Map<number, number>();
		for (let attempt = 0; attempt < 130; attempt++) {
			const answer = await call('awh_wrong');
			await answer.body?.cancel();
			statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
		}
		expect(Object.fromEntries(statuses)).toEqual({ 401: 120, 429: 10 });
		const refused = await call(unlimited.secret);
		await expectProblem(refused, 429, 'rate-limited');
		expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
		// Another address is served as usual.
		const other = await call(unlimited.secret, '198.19.0.1');
		expect(other.status).toBe(202);
		await other.body?.cancel();
	});
});
