import {
	createProviderSchema,
	providerCredentialKind,
	type CreateProviderInput,
	type ProviderKind,
	type ScriptedReply,
	type UpdateProviderInput
} from '../../schemas/agents.ts';
import * as credentials from '../db/credentials.ts';
import { violatedConstraint } from '../db/errors.ts';
import * as providers from '../db/model-providers.ts';
import type { ModelProvider } from '../db/schema/index.ts';
import { ServiceError, notFound } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import { testConnection, type ConnectionTest } from '../agents/providers.ts';
import type { RatePolicy } from '../auth/rate-limit.ts';
import { StepFailure } from '../engine/kinds/types.ts';
import { createGuardedFetch } from '../outbound/guarded-fetch.ts';
import { audited } from './audit.ts';
import { credentialLookup } from './credentials.ts';
import { providerAccess } from './model-turns.ts';
import type { ServiceContext } from './context.ts';
import { authorizeWorkspace } from './workspaces.ts';

/**
 * What the API and the pages show of a provider. The credential is named by id and name only: its
 * secret stays with the credentials service.
 */
export type ProviderView = {
	id: string;
	name: string;
	kind: ProviderKind;
	baseUrl: string | null;
	credential: { id: string; name: string } | null;
	defaultModel: string;
	concurrency: number;
	timeoutMs: number;
	script: ScriptedReply[] | null;
	createdAt: Date;
	updatedAt: Date;
};

// The vendors' own endpoints need a key; an OpenAI-compatible server (a local Ollama, say) may not.
const keyRequired: Record<ProviderKind, boolean> = {
	openai: true,
	anthropic: true,
	'openai-compatible': false,
	scripted: false
};

function toView(row: ModelProvider, credentialName: string | null): ProviderView {
	const { id, name, kind, baseUrl, credentialId, defaultModel, concurrency, timeoutMs, script } =
		row;
	return {
		id,
		name,
		kind,
		baseUrl,
		credential: credentialId === null ? null : { id: credentialId, name: credentialName ?? '' },
		defaultModel,
		concurrency,
		timeoutMs,
		script,
		createdAt: row.createdAt,
		updatedAt: row.updatedAt
	};
}

/** Turns a unique-name violation anywhere in `work` into a 409. */
async function uniqueName<T>(work: Promise<T>): Promise<T> {
	try {
		return await work;
	} catch (error) {
		if (violatedConstraint(error, '23505') === providers.nameIndex)
			throw new ServiceError('conflict', 'This workspace already has a provider with that name.', {
				fields: { name: 'Already taken.' }
			});
		throw error;
	}
}

/**
 * The provider's credential, checked against its kind: one of this workspace, of the kind the
 * provider's vendor takes. Returns the credential's name (null: none).
 */
async function checkCredential(
	ctx: ServiceContext,
	workspaceId: string,
	kind: ProviderKind,
	credentialId: string | null
): Promise<string | null> {
	const wanted = providerCredentialKind[kind];
	const refuse = (message: string) =>
		new ServiceError('invalid', 'The provider is not valid.', {
			fields: { credentialId: message }
		});
	if (credentialId === null) {
		if (keyRequired[kind]) throw refuse('Choose the credential with the API key.');
		return null;
	}
	if (wanted === null) throw refuse('Scripted providers use no credential.');
	const credential = await credentials.get(ctx.db, workspaceId, credentialId);
	if (credential === null) throw refuse('No credential with this id in this workspace.');
	if (credential.kind !== wanted)
		throw refuse(`Choose a credential of the kind ${wanted} (this one is ${credential.kind}).`);
	return credential.name;
}

/**
 * A provider of the workspace or a 404. The model-call layer's connection checks (test a
 * connection, list models) load the provider through here too, under `providers.manage`.
 */
export async function loadProvider(
	ctx: Pick<ServiceContext, 'db'>,
	workspaceId: string,
	providerId: string
): Promise<ModelProvider> {
	const row = isUuid(providerId) ? await providers.get(ctx.db, workspaceId, providerId) : null;
	if (row === null) throw notFound('Provider not found.');
	return row;
}

export async function listProviders(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
): Promise<ProviderView[]> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'providers.read');
	const rows = await providers.list(ctx.db, workspaceId);
	return rows.map((row) => toView(row, row.credentialName));
}

export async function getProvider(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	providerId: string
): Promise<ProviderView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'providers.read');
	const row = await loadProvider(ctx, workspaceId, providerId);
	const credential =
		row.credentialId === null ? null : await credentials.get(ctx.db, workspaceId, row.credentialId);
	return toView(row, credential?.name ?? null);
}

export async function createProvider(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: CreateProviderInput,
	meta: RequestMeta
): Promise<ProviderView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'providers.manage');
	const credentialName = await checkCredential(ctx, workspaceId, input.kind, input.credentialId);
	const created = await uniqueName(
		audited(
			ctx.db,
			meta,
			(tx) => providers.create(tx, { ...input, workspaceId, createdBy: principal.user.id }),
			(row) => ({
				action: 'provider.create',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'model_provider', id: row.id },
				details: { name: row.name, kind: row.kind, credentialId: row.credentialId }
			})
		)
	);
	return toView(created, credentialName);
}

/** Changes what the patch gives; the result is checked as a whole, as a new provider would be. */
export async function updateProvider(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	providerId: string,
	patch: UpdateProviderInput,
	meta: RequestMeta
): Promise<ProviderView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'providers.manage');
	const current = await loadProvider(ctx, workspaceId, providerId);
	const given = Object.fromEntries(
		Object.entries(patch).filter(([, value]) => value !== undefined)
	) as UpdateProviderInput;
	const { name, baseUrl, credentialId, defaultModel, concurrency, timeoutMs, script } = current;
	const merged = createProviderSchema.safeParse({
		...{ name, baseUrl, credentialId, defaultModel, concurrency, timeoutMs, script },
		...given,
		kind: current.kind
	});
	if (!merged.success)
		throw new ServiceError('invalid', 'The provider is not valid.', {
			fields: Object.fromEntries(
				merged.error.issues.map((issue) => [issue.path.join('.'), issue.message])
			)
		});
	const next = merged.data;
	const credentialName = await checkCredential(ctx, workspaceId, next.kind, next.credentialId);
	const changed = Object.keys(given).filter(
		(field) =>
			JSON.stringify(given[field as keyof UpdateProviderInput]) !==
			JSON.stringify(current[field as keyof UpdateProviderInput])
	);
	const updated = await uniqueName(
		audited(
			ctx.db,
			meta,
			async (tx) => {
				const row = await providers.update(tx, workspaceId, current.id, {
					name: next.name,
					baseUrl: next.baseUrl,
					credentialId: next.credentialId,
					defaultModel: next.defaultModel,
					concurrency: next.concurrency,
					timeoutMs: next.timeoutMs,
					script: next.script,
					updatedAt: ctx.now()
				});
				if (row === null) throw notFound('Provider not found.');
				return row;
			},
			(row) => ({
				action: 'provider.update',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'model_provider', id: row.id },
				details: { name: row.name, changed }
			})
		)
	);
	return toView(updated, credentialName);
}

/** Refused (409, naming them) while agents use the provider: they would have nothing to call. */
export async function deleteProvider(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	providerId: string,
	meta: RequestMeta
): Promise<void> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'providers.manage');
	const current = await loadProvider(ctx, workspaceId, providerId);
	const inUse = (names: string[]) =>
		new ServiceError(
			'conflict',
			names.length === 0
				? `“${current.name}” is used by an agent; give it another provider first.`
				: `“${current.name}” is used by ${names.length === 1 ? 'the agent' : 'the agents'} ${names
						.map((agent) => `“${agent}”`)
						.join(', ')}; give them another provider first.`
		);
	try {
		await audited(
			ctx.db,
			meta,
			async (tx) => {
				const users = await providers.agentNamesUsing(tx, current.id);
				if (users.length > 0) throw inUse(users);
				if ((await providers.remove(tx, workspaceId, current.id)) === null)
					throw notFound('Provider not found.');
			},
			{
				action: 'provider.delete',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'model_provider', id: current.id },
				details: { name: current.name, kind: current.kind }
			}
		);
	} catch (error) {
		// An agent saved between the check and the delete: the foreign key still holds.
		if (violatedConstraint(error, '23503') !== null) throw inUse([]);
		throw error;
	}
}

/** Each test calls the provider: 20 a minute per person and workspace. */
export const providerTestRatePolicy: RatePolicy = {
	name: 'provider-test',
	points: 20,
	duration: 60
};
const connectionTestTimeoutMs = 30_000;

/**
 * "Test connection": lists the provider's models with its stored key, through the guarded client,
 * and says whether its default model is among them. A failure is an answer, not an error: its code
 * and a message that never holds the key.
 */
export async function testProvider(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	providerId: string
): Promise<ConnectionTest> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'providers.manage');
	const row = await loadProvider(ctx, workspaceId, providerId);
	const allowance = await ctx.limiter.consume(
		`${workspaceId}:${principal.user.id}`,
		providerTestRatePolicy
	);
	if (!allowance.allowed)
		throw new ServiceError('rate-limited', 'Too many connection tests; wait a moment.', {
			retryAfterSeconds: allowance.retryAfterSeconds
		});
	let access;
	try {
		access = await providerAccess(
			{
				db: ctx.db,
				lookupCredential: credentialLookup(ctx),
				fetch: createGuardedFetch(ctx.tools.http)
			},
			workspaceId,
			row.id,
			null
		);
	} catch (error) {
		if (!(error instanceof StepFailure)) throw error;
		return { ok: false, code: 'auth_failed', message: error.message };
	}
	const timeout = AbortSignal.timeout(Math.min(row.timeoutMs, connectionTestTimeoutMs));
	return testConnection(access.config, access.access, timeout);
}
