import { createHmac, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { expectProblem, signUpFirst, signUpInvited } from '../security/support.ts';

/**
 * Webhook and schedule triggers against the production build: managed through the JSON API and the
 * page, called the way another system would (plain fetch, no cookies).
 */

// On PostgreSQL the web process only executes runs when asked to (embedded mode always does).
const app = useAppServer({ IN_PROCESS_WORKER: 'true' });

interface TriggerBody {
	id: string;
	kind: 'webhook' | 'schedule';
	name: string;
	enabled: boolean;
	path: string | null;
	config: Record<string, unknown>;
	nextFireAt: string | null;
	secret?: string | null;
}

let owner: TestClient;
let viewer: TestClient;
let workspace: string;
let workflowId: string;

const greeter = {
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'shout', kind: 'transform', config: { expression: '$uppercase(name)' } },
		{ id: 'greet', kind: 'template', config: { template: 'Hello {{ steps.shout.output }}!' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'shout' },
		{ from: 'shout', to: 'greet' },
		{ from: 'greet', to: 'done' }
	]
};

const triggersPath = (rest = '') =>
	`/api/v1/workspaces/${workspace}/workflows/${workflowId}/triggers${rest}`;

async function read<T>(response: Response, status = 200): Promise<T> {
	expect(response.status).toBe(status);
	return (await response.json()) as T;
}

async function createTrigger(body: unknown, client = owner) {
	return read<TriggerBody & { secret: string | null }>(
		await client.json(triggersPath(), 'POST', body),
		201
	);
}

async function webhook(config: Record<string, unknown> = {}, name = 'Hook') {
	const trigger = await createTrigger({ kind: 'webhook', name, config });
	if (!trigger.secret || !trigger.path) throw new Error('no secret or path');
	return { ...trigger, secret: trigger.secret, path: trigger.path };
}

/** A call from another system: no cookies, JSON unless told otherwise. */
function callHook(path: string, body: string, headers: Record<string, string> = {}) {
	return fetch(new URL(path, app.url), {
		method: 'POST',
		body,
		headers: { 'content-type': 'application/json', ...headers }
	});
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function signed(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
	const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
	return { 'x-awe-timestamp': String(timestamp), 'x-awe-signature': `sha256=${signature}` };
}

async function runOf(runId: string) {
	return read<{ run: { status: string; output: unknown; trigger: string; triggerId: string } }>(
		await owner.request(`/api/v1/workspaces/${workspace}/runs/${runId}`)
	);
}

async function finishedRun(runId: string) {
	for (;;) {
		const { run } = await runOf(runId);
		if (['succeeded', 'failed', 'cancelled'].includes(run.status)) return run;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = first.client;
	workspace = first.workspaceId;
	viewer = (await signUpInvited(app.url, owner, workspace, 'viewer')).client;
	const created = await read<{ id: string }>(
		await owner.json(`/api/v1/workspaces/${workspace}/workflows`, 'POST', {
			name: 'Greeter',
			definition: greeter
		}),
		201
	);
	workflowId = created.id;
	const published = await owner.json(
		`/api/v1/workspaces/${workspace}/workflows/${workflowId}/versions/1/publish`,
		'POST',
		{}
	);
	expect(published.status).toBe(200);
});

describe('token webhooks', () => {
	it('answer 202 with the run, which runs on the JSON body as its input', async () => {
		const hook = await webhook();
		expect(hook.secret).toMatch(/^awh_[a-z2-7]+$/);
		expect(hook.path).toBe(`/hooks/${hook.id}`);
		const response = await callHook(hook.path, '{"name":"ada"}', bearer(hook.secret));
		const accepted = await read<{ runId: string; status: string }>(response, 202);
		expect(['queued', 'running', 'succeeded']).toContain(accepted.status);
		const run = await finishedRun(accepted.runId);
		expect(run).toMatchObject({
			status: 'succeeded',
			output: 'Hello ADA!',
			trigger: 'webhook',
			triggerId: hook.id
		});
	});

	it('refuse a missing, malformed or wrong token with 401', async () => {
		const hook = await webhook();
		await expectProblem(await callHook(hook.path, '{"name":"x"}'), 401, 'unauthorized');
		await expectProblem(
			await callHook(hook.path, '{"name":"x"}', bearer(`${hook.secret}x`)),
			401,
			'unauthorized'
		);
		await expectProblem(
			await callHook(hook.path, '{"name":"x"}', { authorization: hook.secret }),
			401,
			'unauthorized'
		);
		const other = await webhook({}, 'Another');
		await expectProblem(
			await callHook(hook.path, '{"name":"x"}', bearer(other.secret)),
			401,
			'unauthorized'
		);
	});

	it('answer unknown, malformed and disabled ids with the same 404', async () => {
		const hook = await webhook();
		const disabled = await owner.json(triggersPath(`/${hook.id}`), 'PATCH', { enabled: false });
		expect((await read<TriggerBody>(disabled)).enabled).toBe(false);
		const answers = [];
		for (const path of [hook.path, `/hooks/${randomUUID()}`, '/hooks/not-an-id']) {
			answers.push(await expectProblem(await callHook(path, '{}', bearer(hook.secret)), 404));
		}
		expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
	});

	it('refuse a body of a type they cannot read with 415, naming the types they can', async () => {
		const hook = await webhook();
		const response = await callHook(hook.path, '<name>ada</name>', {
			...bearer(hook.secret),
			'content-type': 'application/xml'
		});
		const refused = await expectProblem(response, 415, 'unsupported-media-type');
		expect(refused.title).toBe(
			'Send the body as application/json, application/x-www-form-urlencoded, multipart/form-data or text/plain.'
		);
		await expectProblem(
			await callHook(hook.path, '{"name":"ada"}', {
				...bearer(hook.secret),
				'content-type': 'application/jsonp'
			}),
			415
		);
		// JSON with parameters is still JSON.
		const withCharset = await callHook(hook.path, '{"name":"ada"}', {
			...bearer(hook.secret),
			'content-type': 'application/json; charset=utf-8'
		});
		expect(withCharset.status).toBe(202);
	});

	it('run on the fields of a form post, urlencoded or multipart', async () => {
		const hook = await webhook();
		const urlencoded = await callHook(hook.path, 'name=ada', {
			...bearer(hook.secret),
			'content-type': 'application/x-www-form-urlencoded'
		});
		const first = await read<{ runId: string }>(urlencoded, 202);
		expect((await finishedRun(first.runId)).output).toBe('Hello ADA!');
		const form = new FormData();
		form.set('name', 'grace');
		// fetch writes the multipart body and its boundary.
		const multipart = await fetch(new URL(hook.path, app.url), {
			method: 'POST',
			body: form,
			headers: bearer(hook.secret)
		});
		const second = await read<{ runId: string }>(multipart, 202);
		expect((await finishedRun(second.runId)).output).toBe('Hello GRACE!');
	});

	it('give a text body as { text }: a workflow without that input refuses it', async () => {
		const hook = await webhook();
		const refused = await expectProblem(
			await callHook(hook.path, 'ada', { ...bearer(hook.secret), 'content-type': 'text/plain' }),
			400,
			'invalid'
		);
		expect(refused).toMatchObject({
			errors: { name: expect.any(String), input: expect.stringMatching(/"text"/) }
		});
	});

	it('refuse a form field of the wrong declared type, naming it', async () => {
		const hook = await webhook();
		const refused = await expectProblem(
			await callHook(hook.path, 'name=a&name=b', {
				...bearer(hook.secret),
				'content-type': 'application/x-www-form-urlencoded'
			}),
			400,
			'invalid'
		);
		expect(refused).toMatchObject({ errors: { name: expect.stringMatching(/string/) } });
	});

	it('refuse a body over the limit with 413, whether Content-Length says so or not', async () => {
		const hook = await webhook({ maxBodyBytes: 1024 });
		const big = JSON.stringify({ name: 'x'.repeat(2000) });
		await expectProblem(await callHook(hook.path, big, bearer(hook.secret)), 413, 'too-large');
		// Chunked, without Content-Length: counted while reading.
		const chunks = [big.slice(0, 700), big.slice(700, 1400), big.slice(1400)];
		const stream = new ReadableStream<Uint8Array>({
			pull(controller) {
				const chunk = chunks.shift();
				if (chunk === undefined) controller.close();
				else controller.enqueue(new TextEncoder().encode(chunk));
			}
		});
		const streamed = await fetch(new URL(hook.path, app.url), {
			method: 'POST',
			body: stream,
			headers: { 'content-type': 'application/json', ...bearer(hook.secret) },
			duplex: 'half'
		} as RequestInit);
		await expectProblem(streamed, 413, 'too-large');
		const small = await callHook(hook.path, '{"name":"ok"}', bearer(hook.secret));
		expect(small.status).toBe(202);
	});

	it('answer 400 with the field errors when the body is not the workflow input', async () => {
		const hook = await webhook();
		const wrong = await expectProblem(
			await callHook(hook.path, '{"name":1,"extra":true}', bearer(hook.secret)),
			400,
			'invalid'
		);
		expect(Object.keys((wrong as unknown as { errors: object }).errors)).toEqual(
			expect.arrayContaining(['name'])
		);
		await expectProblem(await callHook(hook.path, '{"name":', bearer(hook.secret)), 400);
		await expectProblem(await callHook(hook.path, '["ada"]', bearer(hook.secret)), 400);
	});

	it('start one run per Idempotency-Key, and refuse the key with another body', async () => {
		const hook = await webhook();
		const headers = { ...bearer(hook.secret), 'idempotency-key': 'order-42' };
		const first = await callHook(hook.path, '{"name":"ada"}', headers);
		const second = await callHook(hook.path, '{"name":"ada"}', headers);
		const a = await read<{ runId: string }>(first, 202);
		const b = await read<{ runId: string }>(second, 202);
		expect(b.runId).toBe(a.runId);
		expect(first.headers.get('idempotent-replayed')).toBeNull();
		expect(second.headers.get('idempotent-replayed')).toBe('true');
		await expectProblem(await callHook(hook.path, '{"name":"bob"}', headers), 409, 'conflict');
		const tooLong = { ...bearer(hook.secret), 'idempotency-key': 'k'.repeat(201) };
		await expectProblem(await callHook(hook.path, '{"name":"ada"}', tooLong), 400);
	});

	it("in respond='result' mode answer 200 with the run's output", async () => {
		const hook = await webhook({ respond: 'result', waitTimeoutMs: 20_000 });
		const response = await callHook(hook.path, '{"name":"grace"}', bearer(hook.secret));
		const body = await read<Record<string, unknown>>(response, 200);
		expect(body).toEqual({
			runId: expect.any(String),
			status: 'succeeded',
			output: 'Hello GRACE!',
			error: null
		});
	});

	it('limit calls per webhook to its rateLimitPerSecond with 429 and Retry-After', async () => {
		const hook = await webhook({ rateLimitPerSecond: 5 });
		expect(hook.config.rateLimitPerSecond).toBe(5);
		// Invalid JSON: counted (after authentication) but starts no run.
		const responses = await Promise.all(
			Array.from({ length: 40 }, () => callHook(hook.path, '{', bearer(hook.secret)))
		);
		const limited = responses.filter((response) => response.status === 429);
		expect(limited.length).toBeGreaterThan(0);
		expect(Number(limited[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
		await expectProblem(limited[0] as Response, 429, 'rate-limited');
		expect(responses.filter((response) => response.status === 400).length).toBeGreaterThan(0);
		// Strangers without the token do not use up its allowance.
		const stranger = await callHook(hook.path, '{', bearer('awh_wrong'));
		expect(stranger.status).toBe(401);
	});

	it('take 500 calls a second by default, 0 for none, and refuse other limits naming the field', async () => {
		expect((await webhook()).config.rateLimitPerSecond).toBe(500);
		const unlimited = await webhook({ rateLimitPerSecond: 0 });
		const responses = await Promise.all(
			Array.from({ length: 40 }, () => callHook(unlimited.path, '{', bearer(unlimited.secret)))
		);
		expect(new Set(responses.map((response) => response.status))).toEqual(new Set([400]));
		for (const rateLimitPerSecond of [-1, 2.5, 100_001, 'many']) {
			const refused = await owner.json(triggersPath(), 'POST', {
				kind: 'webhook',
				name: 'Bad limit',
				config: { rateLimitPerSecond }
			});
			const body = (await expectProblem(refused, 400, 'invalid')) as { errors?: object };
			expect(Object.keys(body.errors ?? {})).toEqual(['config.rateLimitPerSecond']);
		}
		const patched = await owner.json(triggersPath(`/${unlimited.id}`), 'PATCH', {
			config: { rateLimitPerSecond: 50 }
		});
		expect((await read<TriggerBody>(patched)).config.rateLimitPerSecond).toBe(50);
	});
});

describe('a webhook called again and again', () => {
	it('sees each change to its trigger and workflow on the very next call', async () => {
		const created = await read<{ id: string }>(
			await owner.json(`/api/v1/workspaces/${workspace}/workflows`, 'POST', {
				name: 'Changing',
				definition: greeter
			}),
			201
		);
		const versions = `/api/v1/workspaces/${workspace}/workflows/${created.id}/versions`;
		const trigger = await read<TriggerBody & { secret: string; path: string }>(
			await owner.json(`/api/v1/workspaces/${workspace}/workflows/${created.id}/triggers`, 'POST', {
				kind: 'webhook',
				name: 'Hook',
				config: { respond: 'result' }
			}),
			201
		);
		const hookPath = `/api/v1/workspaces/${workspace}/workflows/${created.id}/triggers/${trigger.id}`;
		const call = (token = trigger.secret) =>
			callHook(trigger.path, '{"name":"ada"}', bearer(token));
		await expectProblem(await call(), 409, 'conflict');
		await read(await owner.json(`${versions}/1/publish`, 'POST', {}));
		for (let n = 0; n < 3; n += 1)
			expect(await read<{ output: unknown }>(await call())).toMatchObject({ output: 'Hello ADA!' });
		await read(await owner.json(hookPath, 'PATCH', { enabled: false }));
		await expectProblem(await call(), 404);
		await read(await owner.json(hookPath, 'PATCH', { enabled: true }));
		const shouting = {
			...greeter,
			nodes: greeter.nodes.map((node) =>
				node.id === 'greet'
					? { ...node, config: { template: 'HEY {{ steps.shout.output }}' } }
					: node
			)
		};
		await read(await owner.json(versions, 'POST', { definition: shouting, publish: true }), 201);
		expect(await read<{ output: unknown }>(await call())).toMatchObject({ output: 'HEY ADA' });
		await read(await owner.json(hookPath, 'PATCH', { config: { respond: 'accepted' } }));
		expect((await call()).status).toBe(202);
		const rotated = await read<{ secret: string }>(
			await owner.json(`${hookPath}/rotate`, 'POST', {})
		);
		await expectProblem(await call(), 401);
		expect((await call(rotated.secret)).status).toBe(202);
		expect(
			(await owner.request(hookPath, { method: 'DELETE', headers: { origin: owner.origin } }))
				.status
		).toBe(204);
		await expectProblem(await call(rotated.secret), 404);
	});
});

describe('HMAC webhooks', () => {
	it('accept a signed request, and refuse a wrong, tampered, missing or stale signature', async () => {
		const hook = await webhook({ auth: 'hmac' });
		expect(hook.secret).toMatch(/^awhs_[a-z2-7]+$/);
		const body = '{"name":"linus"}';
		const ok = await read<{ runId: string }>(
			await callHook(hook.path, body, signed(hook.secret, body)),
			202
		);
		expect((await finishedRun(ok.runId)).output).toBe('Hello LINUS!');

		await expectProblem(await callHook(hook.path, body, signed('awhs_other', body)), 401);
		await expectProblem(
			await callHook(hook.path, '{"name":"mallory"}', signed(hook.secret, body)),
			401
		);
		await expectProblem(await callHook(hook.path, body), 401);
		await expectProblem(await callHook(hook.path, body, bearer(hook.secret)), 401);
		const stale = Math.floor(Date.now() / 1000) - 6 * 60;
		const old = await expectProblem(
			await callHook(hook.path, body, signed(hook.secret, body, stale)),
			401
		);
		expect(old.title).toMatch(/5 minutes/);
		const future = Math.floor(Date.now() / 1000) + 6 * 60;
		await expectProblem(await callHook(hook.path, body, signed(hook.secret, body, future)), 401);
	});

	it('verify the signature over the raw bytes of a form post', async () => {
		const hook = await webhook({ auth: 'hmac' });
		const body = 'name=ada+lovelace';
		const form = { 'content-type': 'application/x-www-form-urlencoded' };
		const ok = await read<{ runId: string }>(
			await callHook(hook.path, body, { ...form, ...signed(hook.secret, body) }),
			202
		);
		expect((await finishedRun(ok.runId)).output).toBe('Hello ADA LOVELACE!');
		// The same field, encoded differently: other bytes, so not the signed request.
		await expectProblem(
			await callHook(hook.path, 'name=ada%20lovelace', { ...form, ...signed(hook.secret, body) }),
			401
		);
	});

	it('return the first run when a signed request is replayed within the window', async () => {
		const hook = await webhook({ auth: 'hmac' });
		const body = '{"name":"eve"}';
		const headers = signed(hook.secret, body);
		const first = await read<{ runId: string }>(await callHook(hook.path, body, headers), 202);
		const replay = await callHook(hook.path, body, headers);
		expect((await read<{ runId: string }>(replay, 202)).runId).toBe(first.runId);
		expect(replay.headers.get('idempotent-replayed')).toBe('true');
	});
});

describe('managing triggers', () => {
	it('never returns a secret except when it is issued', async () => {
		const hook = await webhook({}, 'Quiet');
		const signing = await webhook({ auth: 'hmac' }, 'Signed');
		const list = await owner.request(triggersPath());
		const one = await owner.request(triggersPath(`/${hook.id}`));
		for (const response of [list, one]) {
			expect(response.status).toBe(200);
			const text = await response.text();
			expect(text).not.toContain(hook.secret);
			expect(text).not.toContain(signing.secret);
			expect(text).not.toMatch(/secret|tokenHash|token_hash/i);
		}
	});

	it('rotate a secret: the old one stops working, the new one works', async () => {
		const hook = await webhook();
		const rotated = await read<TriggerBody & { secret: string }>(
			await owner.json(triggersPath(`/${hook.id}/rotate`), 'POST', {})
		);
		expect(rotated.secret).toMatch(/^awh_/);
		expect(rotated.secret).not.toBe(hook.secret);
		await expectProblem(await callHook(hook.path, '{"name":"a"}', bearer(hook.secret)), 401);
		expect((await callHook(hook.path, '{"name":"a"}', bearer(rotated.secret))).status).toBe(202);
	});

	it('issue a signing secret when a webhook switches to hmac', async () => {
		const hook = await webhook();
		const switched = await read<TriggerBody & { secret: string }>(
			await owner.json(triggersPath(`/${hook.id}`), 'PATCH', { config: { auth: 'hmac' } })
		);
		expect(switched.config).toMatchObject({ auth: 'hmac', respond: 'accepted' });
		expect(switched.secret).toMatch(/^awhs_/);
		await expectProblem(await callHook(hook.path, '{"name":"a"}', bearer(hook.secret)), 401);
		const body = '{"name":"a"}';
		expect((await callHook(hook.path, body, signed(switched.secret, body))).status).toBe(202);
		const renamed = await read<TriggerBody>(
			await owner.json(triggersPath(`/${hook.id}`), 'PATCH', { name: 'Renamed' })
		);
		expect(renamed).not.toHaveProperty('secret');
	});

	it('create schedules with their next tick, and refuse invalid settings field by field', async () => {
		const schedule = await createTrigger({
			kind: 'schedule',
			name: 'Mornings',
			config: { cron: '0 9 * * *', timezone: 'Europe/Paris', input: { name: 'cron' } }
		});
		expect(schedule.secret).toBeNull();
		expect(schedule.path).toBeNull();
		expect(new Date(schedule.nextFireAt ?? 0).getTime()).toBeGreaterThan(Date.now());
		expect(schedule.config).toEqual({
			cron: '0 9 * * *',
			timezone: 'Europe/Paris',
			input: { name: 'cron' },
			missed: 'run-once'
		});
		const refused = await expectProblem(
			await owner.json(triggersPath(), 'POST', {
				kind: 'schedule',
				name: 'Bad',
				config: { cron: 'every day', timezone: 'Nowhere/City' }
			}),
			400,
			'invalid'
		);
		expect(refused).toMatchObject({ errors: { 'config.timezone': expect.any(String) } });
		const badCron = await expectProblem(
			await owner.json(triggersPath(`/${schedule.id}`), 'PATCH', { config: { cron: '1 2 3' } }),
			400
		);
		expect(badCron).toMatchObject({ errors: { 'config.cron': expect.any(String) } });
		await expectProblem(
			await owner.json(triggersPath(`/${schedule.id}/rotate`), 'POST', {}),
			409,
			'conflict'
		);
		await expectProblem(await callHook(`/hooks/${schedule.id}`, '{}'), 404);
	});

	it('delete a trigger: its webhook answers 404 from then on', async () => {
		const hook = await webhook();
		const deleted = await owner.request(triggersPath(`/${hook.id}`), {
			method: 'DELETE',
			headers: { origin: owner.origin }
		});
		expect(deleted.status).toBe(204);
		await expectProblem(await owner.request(triggersPath(`/${hook.id}`)), 404);
		await expectProblem(await callHook(hook.path, '{"name":"a"}', bearer(hook.secret)), 404);
	});

	it('let viewers read triggers but not change them', async () => {
		const hook = await webhook();
		expect((await viewer.request(triggersPath())).status).toBe(200);
		await expectProblem(
			await viewer.json(triggersPath(), 'POST', { kind: 'webhook', name: 'Mine' }),
			403
		);
		await expectProblem(await viewer.json(triggersPath(`/${hook.id}/rotate`), 'POST', {}), 403);
		await expectProblem(
			await viewer.json(triggersPath(`/${hook.id}`), 'PATCH', { enabled: false }),
			403
		);
	});
});

describe('the triggers page', () => {
	const pagePath = () => `/workspaces/${workspace}/workflows/${workflowId}/triggers`;

	it('creates a webhook without JavaScript and shows its token only once', async () => {
		const response = await owner.postForm(`${pagePath()}?/create`, {
			intent: 'create-webhook',
			kind: 'webhook',
			name: 'From the page',
			auth: 'token',
			respond: 'accepted'
		});
		expect(response.status).toBe(200);
		const html = await response.text();
		const token = /awh_[a-z2-7]{30,}/.exec(html)?.[0];
		expect(token).toBeDefined();
		expect(html).toContain('/hooks/');
		const again = await (await owner.request(pagePath())).text();
		expect(again).toContain('From the page');
		expect(again).not.toContain(token);
	});

	it('shows form errors beside the schedule form', async () => {
		const response = await owner.postForm(`${pagePath()}?/create`, {
			intent: 'create-schedule',
			kind: 'schedule',
			name: 'Broken',
			cron: 'whenever',
			timezone: 'UTC',
			missed: 'run-once',
			input: '{}'
		});
		expect(response.status).toBe(400);
		expect(await response.text()).toMatch(/Use 5 fields/);
	});

	it('sets a webhook rate limit on creation and later, refusing what is not a whole number', async () => {
		const create = (rateLimitPerSecond: string) =>
			owner.postForm(`${pagePath()}?/create`, {
				intent: 'create-webhook',
				kind: 'webhook',
				name: `Limited ${rateLimitPerSecond}`,
				auth: 'token',
				respond: 'accepted',
				rateLimitPerSecond
			});
		const refused = await create('-3');
		expect(refused.status).toBe(400);
		expect(await refused.text()).toMatch(/Use 0 for no limit, or a positive number/);
		const created = await create('25');
		expect(created.status).toBe(200);
		await created.body?.cancel();
		const hooks = await read<TriggerBody[]>(await owner.request(triggersPath()));
		const hook = hooks.find((trigger) => trigger.name === 'Limited 25');
		expect(hook?.config.rateLimitPerSecond).toBe(25);
		expect(await (await owner.request(pagePath())).text()).toContain('25 calls a second');
		const setLimit = (rateLimitPerSecond: string) =>
			owner.postForm(`${pagePath()}?/limit`, { triggerId: hook?.id ?? '', rateLimitPerSecond });
		const blank = await setLimit('');
		expect(blank.status).toBe(400);
		expect(await blank.text()).toMatch(/or 0 for no limit/);
		const tooMany = await setLimit('100001');
		expect(tooMany.status).toBe(400);
		expect(await tooMany.text()).toMatch(/At most 100000 calls a second/);
		const lifted = await setLimit('0');
		expect(lifted.status).toBe(200);
		await lifted.body?.cancel();
		const after = await read<TriggerBody[]>(await owner.request(triggersPath()));
		expect(after.find((trigger) => trigger.id === hook?.id)?.config.rateLimitPerSecond).toBe(0);
		const forbidden = await viewer.postForm(`${pagePath()}?/limit`, {
			triggerId: hook?.id ?? '',
			rateLimitPerSecond: '1'
		});
		expect(forbidden.status).toBe(403);
	});
});

describe('a webhook whose creator is removed from the workspace', () => {
	it('keeps starting runs: it is the workspace’s, not the editor’s', async () => {
		const editor = await signUpInvited(app.url, owner, workspace, 'editor');
		const hook = await createTrigger(
			{ kind: 'webhook', name: 'Set up by an editor' },
			editor.client
		);
		if (!hook.secret || !hook.path) throw new Error('no secret or path');

		const removed = await owner.request(
			`/api/v1/workspaces/${workspace}/members/${editor.userId}`,
			{
				method: 'DELETE',
				headers: { origin: owner.origin }
			}
		);
		expect(removed.status).toBe(204);
		expect((await editor.client.request(triggersPath())).status).toBe(404);

		const response = await callHook(
			hook.path,
			JSON.stringify({ name: 'ada' }),
			bearer(hook.secret)
		);
		expect(response.status).toBe(202);
		const { runId } = (await response.json()) as { runId: string };
		expect(await finishedRun(runId)).toMatchObject({
			status: 'succeeded',
			trigger: 'webhook',
			triggerId: hook.id,
			output: 'Hello ADA!'
		});
	});
});
