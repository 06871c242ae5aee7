import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { isFinishedRun } from '../../schemas/run-status.ts';
import { webhookConfigSchema, type WebhookConfig } from '../../schemas/triggers.ts';
import type { RatePolicy } from '../auth/rate-limit.ts';
import type { Run, Trigger } from '../db/schema/index.ts';
import * as triggers from '../db/triggers.ts';
import { isUuid } from '../ids.ts';
import { decryptText, sha256Hex } from '../platform/crypto.ts';
import { LruCache } from '../platform/lru.ts';
import { ServiceError, notFound } from '../errors.ts';
import { systemPrincipal, type RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { webhookBodyFormat, webhookRunInput, type WebhookBodyFormat } from './webhook-body.ts';
import { RunEndWatch, startPublishedRun, waitForRun } from './runs.ts';

/**
 * Per webhook, its own `rateLimitPerSecond` in a window of one second, counted after authentication
 * so strangers cannot use up a sender's allowance. Null when the webhook has no limit (0).
 */
export function webhookRatePolicy(perSecond: number): RatePolicy | null {
	if (perSecond === 0) return null;
	return { name: `webhook-${perSecond}-per-second`, points: perSecond, duration: 1, dynamic: true };
}
/**
 * Per client address, refused calls (unknown or disabled webhook, wrong token or signature): once an
 * address has used them up, its calls are refused before any lookup, whatever the webhooks' limits.
 */
export const webhookRefusalPolicy: RatePolicy = {
	name: 'webhook-refused-address',
	points: 120,
	duration: 60
};
/** How far an HMAC timestamp may be from the server clock, either way. */
export const signatureWindowMs = 5 * 60_000;

/** The headers of `POST /hooks/{id}` the service looks at, null when absent. */
export type WebhookHeaders = {
	authorization: string | null;
	contentType: string | null;
	/** X-AWE-Timestamp and X-AWE-Signature, for HMAC webhooks. */
	timestamp: string | null;
	signature: string | null;
	idempotencyKey: string | null;
};

/** What the route passes once it has read the body. */
export type WebhookDelivery = Pick<WebhookHeaders, 'timestamp' | 'signature' | 'idempotencyKey'> & {
	body: Buffer;
};

const admitted: unique symbol = Symbol('awe.admitted-webhook');
/**
 * A call admitted by admitWebhook: its body may now be read, up to `config.maxBodyBytes`. Only
 * admitWebhook makes one, so receiveWebhook is never handed a webhook whose token went unchecked.
 */
export type AdmittedWebhook = {
	trigger: Trigger;
	/** The workflow's published version when the call was admitted; null before the first publish. */
	publishedVersionId: string | null;
	config: WebhookConfig;
	/** How its body becomes the run input, from its Content-Type. */
	format: WebhookBodyFormat;
	readonly [admitted]: true;
};

const unauthorized = (message: string) => new ServiceError('unauthorized', message);

function sameText(a: string, b: string): boolean {
	const left = Buffer.from(a);
	const right = Buffer.from(b);
	return left.length === right.length && timingSafeEqual(left, right);
}

function verifyBearer(trigger: Trigger, authorization: string | null): void {
	const presented = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
	if (
		!presented ||
		trigger.tokenHash === null ||
		!sameText(sha256Hex(presented), trigger.tokenHash)
	)
		throw unauthorized('Send the webhook token as Authorization: Bearer <token>.');
}

/** Checks `X-AWE-Signature: sha256=<hex>` = HMAC-SHA256(secret, `${X-AWE-Timestamp}.${body}`). */
function verifySignature(ctx: ServiceContext, trigger: Trigger, delivery: WebhookDelivery) {
	const timestamp = delivery.timestamp ?? '';
	const signature = /^sha256=([0-9a-f]{64})$/i.exec(delivery.signature ?? '')?.[1];
	if (!/^\d{1,12}$/.test(timestamp) || !signature || trigger.signingSecret === null)
		throw unauthorized('Sign the request: X-AWE-Timestamp and X-AWE-Signature are required.');
	const key = decryptText(ctx.keys.triggers, trigger.signingSecret);
	const expected = createHmac('sha256', key)
		.update(`${timestamp}.`)
		.update(delivery.body)
		.digest('hex');
	if (!sameText(expected, signature.toLowerCase()))
		throw unauthorized('The signature does not match the body.');
	if (Math.abs(ctx.now().getTime() - Number(timestamp) * 1000) > signatureWindowMs)
		throw unauthorized('The signature timestamp is more than 5 minutes from the server clock.');
	return signature.toLowerCase();
}

const idempotencyKeyPattern = /^[\x21-\x7e]{1,200}$/;

// Parsed webhook settings by their stored JSON: parsing is a pure function of that text, so an entry
// is never stale, and a trigger whose settings change is parsed again on its next call.
const parsedConfigs = new LruCache<string, WebhookConfig>(1024);

function webhookConfig(trigger: Trigger): WebhookConfig {
	const source = JSON.stringify(trigger.config);
	let config = parsedConfigs.get(source);
	if (config === undefined)
		parsedConfigs.set(source, (config = webhookConfigSchema.parse(trigger.config)));
	return config;
}

/**
 * First half of `POST /hooks/{id}`, before its body is read: the webhook must exist and be enabled
 * (unknown and disabled ones answer the same 404), a token webhook's token must match, and the body
 * must be of a type it can read (else 415). The route then reads the body within the webhook's
 * `maxBodyBytes`.
 */
export async function admitWebhook(
	ctx: ServiceContext,
	triggerId: string,
	headers: Pick<WebhookHeaders, 'authorization' | 'contentType'>,
	meta: RequestMeta
): Promise<AdmittedWebhook> {
	if (meta.ip !== null) {
		const standing = await ctx.limiter.peek(meta.ip, webhookRefusalPolicy);
		if (!standing.allowed)
			throw new ServiceError('rate-limited', 'Too many refused webhook calls; slow down.', {
				retryAfterSeconds: standing.retryAfterSeconds
			});
	}
	return countingRefusals(ctx, meta, async () => {
		// Read on every call, never cached: a disabled or deleted trigger or a new token counts at once.
		const target = isUuid(triggerId) ? await triggers.getWebhookTarget(ctx.db, triggerId) : null;
		const trigger = target?.trigger;
		if (!target || !trigger || trigger.kind !== 'webhook' || !trigger.enabled)
			throw notFound('Webhook not found.');
		const config = webhookConfig(trigger);
		if (config.auth === 'token') verifyBearer(trigger, headers.authorization);
		const format = webhookBodyFormat(headers.contentType);
		const publishedVersionId = target.publishedVersion?.id ?? null;
		return { trigger, publishedVersionId, config, format, [admitted]: true };
	});
}

/** Runs `check`; a call it refuses as unknown or unauthenticated counts against the address. */
async function countingRefusals<T>(
	ctx: ServiceContext,
	meta: RequestMeta,
	check: () => T | Promise<T>
): Promise<T> {
	try {
		return await check();
	} catch (error) {
		const refused =
			error instanceof ServiceError &&
			(error.type === 'not-found' || error.type === 'unauthorized');
		if (refused && meta.ip !== null) await ctx.limiter.consume(meta.ip, webhookRefusalPolicy);
		throw error;
	}
}

/**
 * Second half of `POST /hooks/{id}`: checks an HMAC webhook's signature (over the raw bytes, whatever
 * their type), rate-limits, and starts a run on the input the body gives (webhookRunInput); in
 * `respond: 'result'` mode waits for it (up to waitTimeoutMs; `complete` says whether it finished
 * in time). An HMAC request replayed within the window returns the run it
 * started the first time: its signature doubles as the idempotency key when none is sent.
 */
export async function receiveWebhook(
	ctx: ServiceContext,
	{ trigger, publishedVersionId, config, format }: AdmittedWebhook,
	delivery: WebhookDelivery,
	meta: RequestMeta
): Promise<{ run: Run; created: boolean; complete: boolean }> {
	const signature =
		config.auth === 'hmac'
			? await countingRefusals(ctx, meta, () => verifySignature(ctx, trigger, delivery))
			: null;
	const policy = webhookRatePolicy(config.rateLimitPerSecond);
	const allowance = policy === null ? null : await ctx.limiter.consume(trigger.id, policy);
	if (allowance !== null && !allowance.allowed) {
		throw new ServiceError('rate-limited', 'Too many calls to this webhook; slow down.', {
			retryAfterSeconds: allowance.retryAfterSeconds
		});
	}
	const requestKey = delivery.idempotencyKey;
	if (requestKey !== null && !idempotencyKeyPattern.test(requestKey))
		throw new ServiceError('invalid', 'Idempotency-Key must be 1–200 visible ASCII characters.');
	const key = requestKey ?? (signature === null ? null : `signature:${signature}`);
	// In result mode the run's end is listened for before the run exists: no read to catch up on.
	const runId = randomUUID();
	const watch = config.respond === 'result' ? await RunEndWatch.open(ctx.bus, runId) : null;
	try {
		const { run, created } = await startPublishedRun(
			ctx,
			systemPrincipal('webhook'),
			{ workspaceId: trigger.workspaceId, workflowId: trigger.workflowId, publishedVersionId },
			{
				input: await webhookRunInput(format, delivery.body),
				idempotencyKey: key === null ? undefined : `webhook:${trigger.id}:${key}`,
				trigger: 'webhook',
				triggerId: trigger.id,
				runId
			},
			meta
		);
		if (watch === null) return { run, created, complete: false };
		const settled = await waitForRun(ctx, run, config.waitTimeoutMs, watch);
		return { run: settled, created, complete: isFinishedRun(settled.status) };
	} finally {
		await watch?.close();
	}
}
