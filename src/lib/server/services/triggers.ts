import type { z } from 'zod';
import {
	scheduleConfigSchema,
	webhookConfigSchema,
	type CreateTriggerInput,
	type ScheduleConfig,
	type UpdateTriggerInput,
	type WebhookConfig
} from '../../schemas/triggers.ts';
import type { Trigger } from '../db/schema/index.ts';
import * as triggers from '../db/triggers.ts';
import { nextTick } from './schedules.ts';
import { isUuid } from '../ids.ts';
import { encryptText, randomToken, sha256Hex } from '../platform/crypto.ts';
import { recordAudit } from './audit.ts';
import { ServiceError, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
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
