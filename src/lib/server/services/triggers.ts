import { createHmac, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import {
	scheduleConfigSchema,
	webhookConfigSchema,
	type CreateTriggerInput,
	type ScheduleConfig,
	type UpdateTriggerInput,
	type WebhookConfig
} from '../../schemas/triggers.ts';
import type { BucketPolicy } from '../auth/rate-limit.ts';
import { isFinishedRun } from '../../schemas/run-status.ts';
import type { Run, Trigger } from '../db/schema/index.ts';
import * as triggers from '../db/triggers.ts';
import { nextTick } from './schedules.ts';
import { isUuid } from '../ids.ts';
import { decryptText, encryptText, randomToken, sha256Hex } from '../platform/crypto.ts';
import { recordAudit } from './audit.ts';
import { ServiceError, notFound } from '../errors.ts';
import { systemPrincipal, type Principal, type RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { startWorkflowRun, waitForRun } from './runs.ts';
import { loadWorkflow } from './workflows.ts';
import { authorizeWorkspace } from './workspaces.ts';

/** What the API and the pages show of a trigger: never its token hash or signing secret. */
export type TriggerView = {
	id: string;
	workflowId: string;
	name: string;
	enabled: boolean;
	nextFireAt: Date | null;
	lastFiredAt: Date | null;
	createdAt: Date;
} & (
	| { kind: 'webhook'; config: WebhookConfig; /** Relative to the server's origin. */ path: string }
	| { kind: 'schedule'; config: ScheduleConfig; path: null }
);

function toView(trigger: Trigger): TriggerView {
	const common = {
		id: trigger.id,
		workflowId: trigger.workflowId,
		name: trigger.name,
		enabled: trigger.enabled,
		nextFireAt: trigger.nextFireAt,
		lastFiredAt: trigger.lastFiredAt,
		createdAt: trigger.createdAt
	};
	return trigger.kind === 'webhook'
		? {
				...common,
				kind: 'webhook',
				config: webhookConfigSchema.parse(trigger.config),
				path: `/hooks/${trigger.id}`
			}
		: {
				...common,
				kind: 'schedule',
				config: scheduleConfigSchema.parse(trigger.config),
				path: null
			};
}

/** A trigger with the secret just issued for it: the only time the secret is ever returned. */
export type TriggerWithSecret = { trigger: TriggerView; secret: string | null };

/**
 * A webhook's secret, shown once. Token mode keeps only its SHA-256; HMAC mode needs the key itself
 * to check signatures, so it is stored encrypted with the trigger key.
 */
function issueSecret(ctx: ServiceContext, auth: WebhookConfig['auth']) {
	if (auth === 'token') {
		const secret = `awh_${randomToken(24)}`;
		return { secret, columns: { tokenHash: sha256Hex(secret), signingSecret: null } };
	}
	const secret = `awhs_${randomToken(32)}`;
	return {
		secret,
		columns: { tokenHash: null, signingSecret: encryptText(ctx.keys.triggers, secret) }
	};
}

/** Parses a config merged from the stored one and a patch; field errors are named `config.<field>`. */
function parseConfig<T extends z.ZodType>(schema: T, config: Record<string, unknown>): z.infer<T> {
	const parsed = schema.safeParse(config);
	if (parsed.success) return parsed.data;
	throw new ServiceError('invalid', 'The trigger settings are not valid.', {
		fields: Object.fromEntries(
			parsed.error.issues.map((issue) => [['config', ...issue.path].join('.'), issue.message])
		)
	});
}

async function loadTrigger(
	ctx: ServiceContext,
	workspaceId: string,
	workflowId: string,
	triggerId: string
): Promise<Trigger> {
	const trigger =
		isUuid(workflowId) && isUuid(triggerId)
			? await triggers.get(ctx.db, workspaceId, workflowId, triggerId)
			: null;
	if (trigger === null) throw notFound('Trigger not found.');
	return trigger;
}

export async function listTriggers(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string
): Promise<TriggerView[]> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	await loadWorkflow(ctx, workspaceId, workflowId);
	return (await triggers.list(ctx.db, workspaceId, workflowId)).map(toView);
}

export async function getTrigger(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	triggerId: string
): Promise<TriggerView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	return toView(await loadTrigger(ctx, workspaceId, workflowId, triggerId));
}

export async function createTrigger(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	input: CreateTriggerInput,
	meta: RequestMeta
): Promise<TriggerWithSecret> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	await loadWorkflow(ctx, workspaceId, workflowId);
	const issued = input.kind === 'webhook' ? issueSecret(ctx, input.config.auth) : null;
	const nextFireAt =
		input.kind === 'schedule' && input.enabled ? nextTick(input.config, ctx.now()) : null;
	return ctx.db.transaction(async (tx) => {
		const trigger = await triggers.create(tx, {
			workspaceId,
			workflowId,
			kind: input.kind,
			name: input.name,
			enabled: input.enabled,
			config: input.config,
			...issued?.columns,
			nextFireAt,
			createdBy: principal.user.id
		});
		await recordAudit(tx, meta, {
			action: 'trigger.create',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'trigger', id: trigger.id },
			details: { workflowId, kind: input.kind, name: input.name }
		});
		return { trigger: toView(trigger), secret: issued?.secret ?? null };
	});
}

/**
 * Renames, enables or disables, or changes settings. Switching a webhook between token and HMAC
 * issues a new secret (returned once). A schedule's next tick is worked out afresh from now when it
 * is enabled again or its timing changes, so time spent disabled never counts as missed ticks.
 */
export async function updateTrigger(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	triggerId: string,
	patch: UpdateTriggerInput,
	meta: RequestMeta
): Promise<TriggerWithSecret> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	const current = await loadTrigger(ctx, workspaceId, workflowId, triggerId);
	const before = toView(current);
	const enabled = patch.enabled ?? current.enabled;
	const values: Parameters<typeof triggers.update>[3] = {
		name: patch.name ?? current.name,
		enabled
	};
	let secret: string | null = null;
	if (before.kind === 'webhook') {
		const config = parseConfig(webhookConfigSchema, { ...before.config, ...patch.config });
		values.config = config;
		if (config.auth !== before.config.auth) {
			const issued = issueSecret(ctx, config.auth);
			Object.assign(values, issued.columns);
			secret = issued.secret;
		}
	} else {
		const config = parseConfig(scheduleConfigSchema, { ...before.config, ...patch.config });
		values.config = config;
		const retimed =
			config.cron !== before.config.cron || config.timezone !== before.config.timezone;
		if (!enabled) values.nextFireAt = null;
		else if (!current.enabled || retimed) values.nextFireAt = nextTick(config, ctx.now());
	}
	return ctx.db.transaction(async (tx) => {
		const updated = await triggers.update(tx, workspaceId, current.id, values);
		if (updated === null) throw notFound('Trigger not found.');
		await recordAudit(tx, meta, {
			action: 'trigger.update',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'trigger', id: current.id },
			details: { changed: Object.keys(patch), enabled, secretIssued: secret !== null }
		});
		return { trigger: toView(updated), secret };
	});
}

export async function deleteTrigger(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	triggerId: string,
	meta: RequestMeta
): Promise<void> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	const current = await loadTrigger(ctx, workspaceId, workflowId, triggerId);
	await ctx.db.transaction(async (tx) => {
		if (!(await triggers.remove(tx, workspaceId, workflowId, current.id)))
			throw notFound('Trigger not found.');
		await recordAudit(tx, meta, {
			action: 'trigger.delete',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'trigger', id: current.id },
			details: { workflowId, kind: current.kind, name: current.name }
		});
	});
}

/** Replaces a webhook's token or signing secret; the old one stops working at once. */
export async function rotateTriggerSecret(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	workflowId: string,
	triggerId: string,
	meta: RequestMeta
): Promise<TriggerWithSecret> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.write');
	const current = toView(await loadTrigger(ctx, workspaceId, workflowId, triggerId));
	if (current.kind !== 'webhook')
		throw new ServiceError('conflict', 'Only webhooks have a secret to rotate.');
	const issued = issueSecret(ctx, current.config.auth);
	return ctx.db.transaction(async (tx) => {
		const updated = await triggers.update(tx, workspaceId, current.id, issued.columns);
		if (updated === null) throw notFound('Trigger not found.');
		await recordAudit(tx, meta, {
			action: 'trigger.rotate',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'trigger', id: current.id }
		});
		return { trigger: toView(updated), secret: issued.secret };
	});
}

/** A webhook request refused before it reaches the workflow for its size or media type. */
export class WebhookRequestError extends Error {
	override name = 'WebhookRequestError';
	readonly status: 413 | 415;
	readonly type: string;

	constructor(status: 413 | 415, type: string, message: string) {
		super(message);
		this.status = status;
		this.type = type;
	}
}

/** Per webhook, counted after authentication so strangers cannot use up a sender's allowance. */
export const webhookRatePolicy: BucketPolicy = { capacity: 60, refillPerSecond: 1 };
/** How far an HMAC timestamp may be from the server clock, either way. */
export const signatureWindowMs = 5 * 60_000;

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
function verifySignature(ctx: ServiceContext, trigger: Trigger, headers: Headers, body: Buffer) {
	const timestamp = headers.get('x-awe-timestamp') ?? '';
	const signature = /^sha256=([0-9a-f]{64})$/i.exec(headers.get('x-awe-signature') ?? '')?.[1];
	if (!/^\d{1,12}$/.test(timestamp) || !signature || trigger.signingSecret === null)
		throw unauthorized('Sign the request: X-AWE-Timestamp and X-AWE-Signature are required.');
	const key = decryptText(ctx.keys.triggers, trigger.signingSecret);
	const expected = createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex');
	if (!sameText(expected, signature.toLowerCase()))
		throw unauthorized('The signature does not match the body.');
	if (Math.abs(ctx.now().getTime() - Number(timestamp) * 1000) > signatureWindowMs)
		throw unauthorized('The signature timestamp is more than 5 minutes from the server clock.');
	return signature.toLowerCase();
}

/** Reads the body, refusing it as soon as it is larger than allowed (whatever Content-Length said). */
async function readBodyWithin(request: Request, maxBytes: number): Promise<Buffer> {
	const tooLarge = () =>
		new WebhookRequestError(413, 'too-large', `The body is larger than ${maxBytes} bytes.`);
	const declared = Number(request.headers.get('content-length') ?? 0);
	if (declared > maxBytes) throw tooLarge();
	if (request.body === null) return Buffer.alloc(0);
	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		total += value.byteLength;
		// Not cancelled: that would destroy the socket before the 413 is written (the route closes it).
		if (total > maxBytes) throw tooLarge();
		chunks.push(value);
	}
	return Buffer.concat(chunks);
}

function parseInput(body: Buffer): Record<string, unknown> {
	let input: unknown;
	try {
		input = JSON.parse(body.toString('utf8'));
	} catch {
		throw new ServiceError('invalid', 'The body is not valid JSON.');
	}
	if (input === null || typeof input !== 'object' || Array.isArray(input))
		throw new ServiceError('invalid', 'The body must be a JSON object: it is the run input.');
	return input as Record<string, unknown>;
}

const idempotencyKeyPattern = /^[\x21-\x7e]{1,200}$/;

/**
 * Handles `POST /hooks/{id}`: authenticates the caller, reads the JSON body as the run input and
 * starts a run; in `respond: 'result'` mode waits for it (up to waitTimeoutMs; `complete` says whether
 * it finished in time). Unknown and disabled
 * webhooks answer the same 404. An HMAC request replayed within the window returns the run it
 * started the first time: its signature doubles as the idempotency key when none is sent.
 */
export async function receiveWebhook(
	ctx: ServiceContext,
	triggerId: string,
	request: Request,
	meta: RequestMeta
): Promise<{ run: Run; created: boolean; complete: boolean }> {
	const trigger = isUuid(triggerId) ? await triggers.getById(ctx.db, triggerId) : null;
	if (trigger === null || trigger.kind !== 'webhook' || !trigger.enabled)
		throw notFound('Webhook not found.');
	const config = webhookConfigSchema.parse(trigger.config);
	const { headers } = request;
	if (config.auth === 'token') verifyBearer(trigger, headers.get('authorization'));
	const mediaType = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
	if (mediaType !== 'application/json')
		throw new WebhookRequestError(
			415,
			'unsupported-media-type',
			'Send the body as application/json.'
		);
	const body = await readBodyWithin(request, config.maxBodyBytes);
	const signature = config.auth === 'hmac' ? verifySignature(ctx, trigger, headers, body) : null;
	const allowance = await ctx.limiter.consume(`webhook:${trigger.id}`, webhookRatePolicy);
	if (!allowance.allowed) {
		throw new ServiceError('rate-limited', 'Too many calls to this webhook; slow down.', {
			retryAfterSeconds: allowance.retryAfterSeconds
		});
	}
	const requestKey = headers.get('idempotency-key');
	if (requestKey !== null && !idempotencyKeyPattern.test(requestKey))
		throw new ServiceError('invalid', 'Idempotency-Key must be 1–200 visible ASCII characters.');
	const key = requestKey ?? (signature === null ? null : `signature:${signature}`);
	const { run, created } = await startWorkflowRun(
		ctx,
		systemPrincipal('webhook'),
		trigger.workspaceId,
		{
			workflowId: trigger.workflowId,
			input: parseInput(body),
			idempotencyKey: key === null ? undefined : `webhook:${trigger.id}:${key}`,
			trigger: 'webhook',
			triggerId: trigger.id
		},
		meta
	);
	if (config.respond === 'accepted') return { run, created, complete: false };
	const settled = await waitForRun(ctx, trigger.workspaceId, run.id, config.waitTimeoutMs);
	return { run: settled, created, complete: isFinishedRun(settled.status) };
}
