import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTriggerSchema } from '../../src/lib/schemas/triggers.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import { createTrigger, updateTrigger } from '../../src/lib/server/services/triggers.ts';
import { WebhookRequestError } from '../../src/lib/server/services/webhook-body.ts';
import {
	admitWebhook,
	receiveWebhook,
	signatureWindowMs,
	webhookRefusalPolicy,
	type WebhookDelivery
} from '../../src/lib/server/services/webhooks.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta } from '../helpers/services.ts';

/** The webhook service called with plain data, as the route calls it once it has read the body. */

const testDb = useTestDatabase();
let engine: EngineHarness;
let workflowId: string;
/** Takes what form posts give: strings, and an array for a repeated field. */
let formFlowId: string;
/** Takes a plain-text body: `{ text }`. */
let textFlowId: string;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	workflowId = await engine.publish({
		inputs: [{ name: 'name', type: 'string', required: true }],
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'done', kind: 'output' }
		],
		edges: [{ from: 'start', to: 'done' }]
	});
	const passThrough = {
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'done', kind: 'output' }
		],
		edges: [{ from: 'start', to: 'done' }]
	};
	formFlowId = await engine.publish({
		...passThrough,
		inputs: [
			{ name: 'name', type: 'string', required: true },
			{ name: 'tags', type: 'array' },
			{ name: 'count', type: 'number' }
		]
	});
	textFlowId = await engine.publish({
		...passThrough,
		inputs: [{ name: 'text', type: 'string', required: true }]
	});
});
afterAll(() => engine.stopWorkers());

async function webhook(config: Record<string, unknown> = {}, flowId = workflowId) {
	const input = createTriggerSchema.parse({ kind: 'webhook', name: 'Hook', config });
	const { trigger, secret } = await createTrigger(
		engine.ctx,
		engine.owner.principal,
		engine.workspaceId,
		flowId,
		input,
		meta
	);
	if (secret === null) throw new Error('a webhook is created with a secret');
	return { id: trigger.id, secret };
}

const json = 'application/json';
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}`, contentType: json });
const unsigned = { timestamp: null, signature: null, idempotencyKey: null };

function delivery(body: string, headers: Partial<WebhookDelivery> = {}): WebhookDelivery {
	return { ...unsigned, body: Buffer.from(body), ...headers };
}

/** The X-AWE-Timestamp and X-AWE-Signature a sender computes, at the service's clock by default. */
function signed(secret: string, body: string, at = engine.ctx.now()) {
	const timestamp = String(Math.floor(at.getTime() / 1000));
	const hex = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
	return { timestamp, signature: `sha256=${hex}` };
}

/** The failure a call ends in: a ServiceError's type, or the status of a refused request. */
async function failure(promise: Promise<unknown>): Promise<string> {
	try {
		await promise;
		return 'ok';
	} catch (error) {
		if (error instanceof ServiceError) return error.type;
		if (error instanceof WebhookRequestError) return String(error.status);
		throw error;
	}
}

describe('a token webhook', () => {
	it('admits its own token and starts a run with the body as input', async () => {
		const hook = await webhook();
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: `bearer  ${hook.secret}`,
				contentType: 'Application/JSON; charset=utf-8'
			},
			meta
		);
		expect(admitted.config).toMatchObject({ auth: 'token', maxBodyBytes: 256 * 1024 });
		const { run, created, complete } = await receiveWebhook(
			engine.ctx,
			admitted,
			delivery('{"name":"ada"}'),
			meta
		);
		expect({ created, complete }).toEqual({ created: true, complete: false });
		expect(run).toMatchObject({
			workspaceId: engine.workspaceId,
			trigger: 'webhook',
			triggerId: hook.id,
			input: { name: 'ada' },
			createdBy: null
		});
	});

	it('refuses a wrong or missing token, and a body of a type it cannot read', async () => {
		const hook = await webhook();
		const other = await webhook();
		const admit = (headers: { authorization: string | null; contentType: string | null }) =>
			failure(admitWebhook(engine.ctx, hook.id, headers, meta));
		expect(await admit(bearer(other.secret))).toBe('unauthorized');
		expect(await admit({ authorization: hook.secret, contentType: json })).toBe('unauthorized');
		expect(await admit({ authorization: null, contentType: json })).toBe('unauthorized');
		expect(await admit({ ...bearer(hook.secret), contentType: 'application/xml' })).toBe('415');
		expect(await admit({ ...bearer(hook.secret), contentType: null })).toBe('415');
		// Authentication comes first: a stranger learns nothing from the media type.
		expect(await admit({ authorization: null, contentType: 'application/xml' })).toBe(
			'unauthorized'
		);
	});

	it('answers unknown, malformed, disabled and schedule ids with the same 404', async () => {
		const disabled = await webhook();
		await updateTrigger(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			disabled.id,
			{ enabled: false },
			meta
		);
		const schedule = await createTrigger(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			createTriggerSchema.parse({
				kind: 'schedule',
				name: 'Nightly',
				config: { cron: '0 0 * * *', input: { name: 'cron' } }
			}),
			meta
		);
		const messages = new Set<string>();
		for (const id of [disabled.id, randomUUID(), 'not-an-id', schedule.trigger.id]) {
			const error = await admitWebhook(engine.ctx, id, bearer(disabled.secret), meta).catch(
				(reason: unknown) => reason
			);
			expect(error).toBeInstanceOf(ServiceError);
			expect(error).toMatchObject({ status: 404, type: 'not-found' });
			messages.add((error as ServiceError).message);
		}
		expect(messages.size).toBe(1);
	});

	it('starts one run per Idempotency-Key and refuses a malformed key', async () => {
		const hook = await webhook();
		const admitted = await admitWebhook(engine.ctx, hook.id, bearer(hook.secret), meta);
		const call = delivery('{"name":"ada"}', { idempotencyKey: 'order-42' });
		const first = await receiveWebhook(engine.ctx, admitted, call, meta);
		const second = await receiveWebhook(engine.ctx, admitted, call, meta);
		expect(second.run.id).toBe(first.run.id);
		expect([first.created, second.created]).toEqual([true, false]);
		const other = delivery('{"name":"bob"}', { idempotencyKey: 'order-42' });
		expect(await failure(receiveWebhook(engine.ctx, admitted, other, meta))).toBe('conflict');
		const tooLong = delivery('{"name":"ada"}', { idempotencyKey: 'k'.repeat(201) });
		expect(await failure(receiveWebhook(engine.ctx, admitted, tooLong, meta))).toBe('invalid');
	});

	it('counts admitted calls against its rate limit, even those with a bad body', async () => {
		const hook = await webhook({ rateLimitPerSecond: 3 });
		const admitted = await admitWebhook(engine.ctx, hook.id, bearer(hook.secret), meta);
		const notJson = delivery('{');
		for (let call = 0; call < 3; call += 1) {
			expect(await failure(receiveWebhook(engine.ctx, admitted, notJson, meta))).toBe('invalid');
		}
		const limited = await receiveWebhook(engine.ctx, admitted, notJson, meta).catch(
			(reason: unknown) => reason
		);
		expect(limited).toMatchObject({ type: 'rate-limited', retryAfterSeconds: 1 });
		engine.ctx.clock.advance(1_000);
		expect(await failure(receiveWebhook(engine.ctx, admitted, notJson, meta))).toBe('invalid');
	});

	it('allows 500 calls a second by default, and any number with a limit of 0', async () => {
		const byDefault = await webhook();
		const unlimited = await webhook({ rateLimitPerSecond: 0 });
		const notJson = delivery('{');
		const outcomes = async (id: string, secret: string, calls: number) => {
			const admitted = await admitWebhook(engine.ctx, id, bearer(secret), meta);
			expect(admitted.config.rateLimitPerSecond).toBe(id === byDefault.id ? 500 : 0);
			const seen = new Map<string, number>();
			for (let call = 0; call < calls; call += 1) {
				const outcome = await failure(receiveWebhook(engine.ctx, admitted, notJson, meta));
				seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
			}
			return Object.fromEntries(seen);
		};
		expect(await outcomes(byDefault.id, byDefault.secret, 501)).toEqual({
			invalid: 500,
			'rate-limited': 1
		});
		expect(await outcomes(unlimited.id, unlimited.secret, 1_000)).toEqual({ invalid: 1_000 });
	});

	it('applies a changed limit to the next call', async () => {
		const hook = await webhook({ rateLimitPerSecond: 10 });
		await updateTrigger(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			hook.id,
			{ config: { rateLimitPerSecond: 1 } },
			meta
		);
		const admitted = await admitWebhook(engine.ctx, hook.id, bearer(hook.secret), meta);
		const notJson = delivery('{');
		expect(await failure(receiveWebhook(engine.ctx, admitted, notJson, meta))).toBe('invalid');
		expect(await failure(receiveWebhook(engine.ctx, admitted, notJson, meta))).toBe('rate-limited');
	});

	it('refuses a limit that is not a whole number from 0 to 100000, naming the field', async () => {
		for (const rateLimitPerSecond of [-1, 1.5, 100_001, '10', null]) {
			const parsed = createTriggerSchema.safeParse({
				kind: 'webhook',
				name: 'Hook',
				config: { rateLimitPerSecond }
			});
			expect(parsed.success).toBe(false);
			expect(parsed.error?.issues[0]?.path).toEqual(['config', 'rateLimitPerSecond']);
		}
		const hook = await webhook();
		const error = await updateTrigger(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			hook.id,
			{ config: { rateLimitPerSecond: -5 } },
			meta
		).catch((reason: unknown) => reason);
		expect(error).toMatchObject({
			type: 'invalid',
			fields: { 'config.rateLimitPerSecond': 'Use 0 for no limit, or a positive number.' }
		});
	});
});

describe('refused calls from one address', () => {
	it('are limited, and then refuse that address whatever the webhooks limits are', async () => {
		const hook = await webhook({ rateLimitPerSecond: 0 });
		const flooder = { ip: '198.51.100.9', userAgent: 'flood' };
		const wrongToken = { authorization: 'Bearer nope', contentType: json };
		for (let call = 0; call < webhookRefusalPolicy.points; call += 1) {
			expect(await failure(admitWebhook(engine.ctx, hook.id, wrongToken, flooder))).toBe(
				'unauthorized'
			);
		}
		const blocked = await admitWebhook(engine.ctx, randomUUID(), wrongToken, flooder).catch(
			(reason: unknown) => reason
		);
		expect(blocked).toMatchObject({ type: 'rate-limited', status: 429 });
		// Blocked before any lookup: the right token from that address waits too; others are served.
		expect(await failure(admitWebhook(engine.ctx, hook.id, bearer(hook.secret), flooder))).toBe(
			'rate-limited'
		);
		expect(await failure(admitWebhook(engine.ctx, hook.id, bearer(hook.secret), meta))).toBe('ok');
		engine.ctx.clock.advance(webhookRefusalPolicy.duration * 1000);
		expect(await failure(admitWebhook(engine.ctx, hook.id, bearer(hook.secret), flooder))).toBe(
			'ok'
		);
	});

	it('count unknown webhooks and bad signatures, not accepted calls', async () => {
		const hook = await webhook({ auth: 'hmac', rateLimitPerSecond: 0 });
		const sender = { ip: '198.51.100.10', userAgent: 'sender' };
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{ authorization: null, contentType: json },
			sender
		);
		const body = '{"name":"ada"}';
		const good = delivery(body, signed(hook.secret, body));
		for (let call = 0; call < webhookRefusalPolicy.points + 10; call += 1)
			await receiveWebhook(engine.ctx, admitted, good, sender);
		expect((await engine.ctx.limiter.peek(sender.ip, webhookRefusalPolicy)).allowed).toBe(true);
		const forged = delivery(body, signed('not the secret', body));
		for (let call = 0; call < webhookRefusalPolicy.points / 2; call += 1) {
			expect(await failure(receiveWebhook(engine.ctx, admitted, forged, sender))).toBe(
				'unauthorized'
			);
			expect(await failure(admitWebhook(engine.ctx, randomUUID(), bearer('x'), sender))).toBe(
				'not-found'
			);
		}
		expect(await failure(admitWebhook(engine.ctx, hook.id, bearer('x'), sender))).toBe(
			'rate-limited'
		);
	});
});

describe('an HMAC webhook', () => {
	it('starts a run on a signed body, and returns that run when the request is replayed', async () => {
		const hook = await webhook({ auth: 'hmac' });
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: null,
				contentType: json
			},
			meta
		);
		const body = '{"name":"linus"}';
		const call = delivery(body, signed(hook.secret, body));
		const first = await receiveWebhook(engine.ctx, admitted, call, meta);
		expect(first).toMatchObject({ created: true, run: { input: { name: 'linus' } } });
		const replay = await receiveWebhook(engine.ctx, admitted, call, meta);
		expect(replay).toMatchObject({ created: false, run: { id: first.run.id } });
	});

	it('refuses a tampered body, a missing or foreign signature, and a stale timestamp', async () => {
		const hook = await webhook({ auth: 'hmac' });
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: null,
				contentType: json
			},
			meta
		);
		const body = '{"name":"eve"}';
		const receive = (call: WebhookDelivery) =>
			receiveWebhook(engine.ctx, admitted, call, meta).catch((reason: unknown) => reason);
		const refusals = [
			delivery('{"name":"mallory"}', signed(hook.secret, body)),
			delivery(body),
			delivery(body, signed('awhs_other', body)),
			delivery(body, { ...signed(hook.secret, body), timestamp: 'soon' })
		];
		for (const call of refusals) {
			expect(await receive(call)).toMatchObject({ type: 'unauthorized' });
		}
		const late = new Date(engine.ctx.now().getTime() - signatureWindowMs - 1_000);
		const stale = await receive(delivery(body, signed(hook.secret, body, late)));
		expect(stale).toMatchObject({ type: 'unauthorized', message: expect.stringMatching(/5 min/) });
		const early = new Date(engine.ctx.now().getTime() + signatureWindowMs - 1_000);
		expect(await receive(delivery(body, signed(hook.secret, body, early)))).toMatchObject({
			created: true
		});
	});
});

describe('form and text bodies', () => {
	const form = 'application/x-www-form-urlencoded';

	it('start a run on the form fields: strings, and an array for a repeated name', async () => {
		const hook = await webhook({}, formFlowId);
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: `Bearer ${hook.secret}`,
				contentType: `${form}; charset=UTF-8`
			},
			meta
		);
		const { run } = await receiveWebhook(
			engine.ctx,
			admitted,
			delivery('name=Ada+Lovelace&tags=math&tags=engines'),
			meta
		);
		expect(run.input).toEqual({ name: 'Ada Lovelace', tags: ['math', 'engines'] });

		const boundary = 'awe';
		const multipart = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: `Bearer ${hook.secret}`,
				contentType: `multipart/form-data; boundary=${boundary}`
			},
			meta
		);
		const body = `--${boundary}\r\ncontent-disposition: form-data; name="tags[]"\r\n\r\nsolo\r\n--${boundary}\r\ncontent-disposition: form-data; name="name"\r\n\r\nGrace\r\n--${boundary}--\r\n`;
		const second = await receiveWebhook(engine.ctx, multipart, delivery(body), meta);
		expect(second.run.input).toEqual({ name: 'Grace', tags: ['solo'] });
	});

	it('leave fields strings: a declared number refuses one, naming the field', async () => {
		const hook = await webhook({}, formFlowId);
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: `Bearer ${hook.secret}`,
				contentType: form
			},
			meta
		);
		const refused = await receiveWebhook(
			engine.ctx,
			admitted,
			delivery('name=ada&count=3'),
			meta
		).catch((reason: unknown) => reason);
		expect(refused).toBeInstanceOf(ServiceError);
		expect(refused).toMatchObject({ type: 'invalid', fields: { count: expect.any(String) } });
	});

	it('start a run on a text body as { text }', async () => {
		const hook = await webhook({}, textFlowId);
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: `Bearer ${hook.secret}`,
				contentType: 'text/plain; charset=utf-8'
			},
			meta
		);
		const { run } = await receiveWebhook(engine.ctx, admitted, delivery('deploy done ✓'), meta);
		expect(run.input).toEqual({ text: 'deploy done ✓' });
	});

	it('are signed over their raw bytes: the same fields in another order do not verify', async () => {
		const hook = await webhook({ auth: 'hmac' }, formFlowId);
		const admitted = await admitWebhook(
			engine.ctx,
			hook.id,
			{
				authorization: null,
				contentType: form
			},
			meta
		);
		const body = 'name=ada&tags%5B%5D=x';
		const ok = await receiveWebhook(
			engine.ctx,
			admitted,
			delivery(body, signed(hook.secret, body)),
			meta
		);
		expect(ok.run.input).toEqual({ name: 'ada', tags: ['x'] });
		const reordered = delivery('tags%5B%5D=x&name=ada', signed(hook.secret, body));
		expect(await failure(receiveWebhook(engine.ctx, admitted, reordered, meta))).toBe(
			'unauthorized'
		);
	});

	it('refuse what the database cannot store, before any run starts', async () => {
		const hook = await webhook();
		const admitted = await admitWebhook(engine.ctx, hook.id, bearer(hook.secret), meta);
		const refused = await receiveWebhook(
			engine.ctx,
			admitted,
			delivery('{"name":"a\\u0000b"}', { idempotencyKey: 'nul-1' }),
			meta
		).catch((reason: unknown) => reason);
		expect(refused).toMatchObject({
			type: 'invalid',
			fields: { name: expect.stringMatching(/NUL/) }
		});
		// Nothing was started under the key: the same key with a clean body starts a run.
		const clean = await receiveWebhook(
			engine.ctx,
			admitted,
			delivery('{"name":"ab"}', { idempotencyKey: 'nul-1' }),
			meta
		);
		expect(clean.created).toBe(true);
	});
});

describe("respond: 'result'", () => {
	it('answers incomplete at the timeout, and with the output once a worker runs it', async () => {
		const hook = await webhook({ respond: 'result', waitTimeoutMs: 1_000 });
		const admitted = await admitWebhook(engine.ctx, hook.id, bearer(hook.secret), meta);
		const pending = await receiveWebhook(engine.ctx, admitted, delivery('{"name":"ada"}'), meta);
		expect(pending).toMatchObject({ complete: false, run: { status: 'queued' } });

		await engine.startWorker({ pollMs: 50 });
		const finished = await receiveWebhook(engine.ctx, admitted, delivery('{"name":"grace"}'), meta);
		expect(finished).toMatchObject({
			created: true,
			complete: true,
			run: { status: 'succeeded', output: { name: 'grace' } }
		});
		await engine.stopWorkers();
	});
});
