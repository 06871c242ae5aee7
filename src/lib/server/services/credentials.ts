import type { CredentialLookup } from '../tools/tooling.ts';
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
	credentialNameSchema,
	credentialSecretSchemas,
	credentialSettingsSchema,
	joinSecret,
	secretFieldOf,
	settingFields,
	splitSecret,
	type CreateCredentialInput,
	type CredentialSettings,
	type CredentialValue,
	type UpdateCredentialInput
} from '../../schemas/credentials.ts';
import { openSecret, sealSecret } from '../credentials/keyring.ts';
import * as credentials from '../db/credentials.ts';
import * as modelProviders from '../db/model-providers.ts';
import type { Credential } from '../db/schema/index.ts';
import { isUuid } from '../ids.ts';
import { recordAudit } from './audit.ts';
import { ServiceError, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { authorizeWorkspace } from './workspaces.ts';

/** What the API and the pages show of a credential: its settings and a hint, never the secret. */
export type CredentialView = {
	id: string;
	name: string;
	hint: string;
	createdAt: Date;
	updatedAt: Date;
	lastUsedAt: Date | null;
} & CredentialSettings;

/** A credential with its decrypted secret, for the engine to inject into a request (host side only). */
export type ResolvedCredential = { id: string; name: string } & CredentialValue;

/** What resolving and rotating need: workers and the rotation command have no full ServiceContext. */
export type CredentialContext = Pick<ServiceContext, 'db' | 'now'> & {
	keys: Pick<ServiceContext['keys'], 'credentials'>;
};

// lastUsedAt is for people: one write a minute per credential keeps busy workflows cheap.
const touchEveryMs = 60_000;

/** `••••` plus the last 4 characters of a secret long enough that they give little away. */
export function secretHint(secret: string): string {
	const characters = Array.from(secret);
	return characters.length >= 12 ? `••••${characters.slice(-4).join('')}` : '••••';
}

function settingsOf(row: Credential): CredentialSettings {
	return credentialSettingsSchema.parse({ ...row.settings, kind: row.kind });
}

function toView(row: Credential): CredentialView {
	const { id, name, hint, createdAt, updatedAt, lastUsedAt } = row;
	return { id, name, hint, createdAt, updatedAt, lastUsedAt, ...settingsOf(row) };
}

/** The settings without their kind, as stored in the `settings` column. */
function storedSettings(settings: CredentialSettings): Record<string, unknown> {
	const stored: Record<string, unknown> = { ...settings };
	delete stored.kind;
	return stored;
}

const nameTaken = () =>
	new ServiceError('conflict', 'This workspace already has a credential with that name.', {
		fields: { name: 'Already taken.' }
	});

/** Turns a unique-name violation anywhere in `work` into a 409. */
async function uniqueName<T>(work: Promise<T>): Promise<T> {
	try {
		return await work;
	} catch (error) {
		if (credentials.isDuplicateName(error)) throw nameTaken();
		throw error;
	}
}

/** Field errors of a failed parse: under `field` when given, else under each issue's path. */
function issuesOf(result: z.ZodSafeParseResult<unknown> | null, field?: string) {
	if (result === null || result.success) return {};
	return Object.fromEntries(
		result.error.issues.map((issue) => [field ?? issue.path.map(String).join('.'), issue.message])
	);
}

async function loadCredential(
	ctx: ServiceContext,
	workspaceId: string,
	credentialId: string
): Promise<Credential> {
	const row = isUuid(credentialId)
		? await credentials.get(ctx.db, workspaceId, credentialId)
		: null;
	if (row === null) throw notFound('Credential not found.');
	return row;
}

export async function listCredentials(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
): Promise<CredentialView[]> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'credentials.read');
	return (await credentials.list(ctx.db, workspaceId)).map(toView);
}

export async function getCredential(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	credentialId: string
): Promise<CredentialView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'credentials.read');
	return toView(await loadCredential(ctx, workspaceId, credentialId));
}

export async function createCredential(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: CreateCredentialInput,
	meta: RequestMeta
): Promise<CredentialView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'credentials.manage');
	const { name, ...value } = input;
	const { settings, secret } = splitSecret(value);
	const id = randomUUID();
	return uniqueName(
		ctx.db.transaction(async (tx) => {
			const keyVersion = await credentials.lockKeyVersion(tx, 'share');
			const created = await credentials.create(tx, {
				id,
				workspaceId,
				name,
				kind: settings.kind,
				settings: storedSettings(settings),
				sealedSecret: sealSecret(ctx.keys.credentials, keyVersion, { id, workspaceId }, secret),
				keyVersion,
				hint: secretHint(secret),
				createdBy: principal.user.id
			});
			await recordAudit(tx, meta, {
				action: 'credential.create',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'credential', id },
				details: { kind: settings.kind, name }
			});
			return toView(created);
		})
	);
}

/**
 * Renames, changes settings, or replaces the secret (when the patch carries a non-empty one). The
 * kind never changes: a different kind is a different credential.
 */
export async function updateCredential(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	credentialId: string,
	patch: UpdateCredentialInput,
	meta: RequestMeta
): Promise<CredentialView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'credentials.manage');
	const current = await loadCredential(ctx, workspaceId, credentialId);
	const before = settingsOf(current);
	const changedSettings = Object.fromEntries(
		settingFields
			.filter((field) => field in before && patch[field] !== undefined)
			.map((field) => [field, patch[field]])
	);
	const field = secretFieldOf[current.kind];
	const replacement = patch[field];
	// Every field is checked, so that all mistakes are reported at once.
	const settings = credentialSettingsSchema.safeParse({ ...before, ...changedSettings });
	const name = credentialNameSchema.safeParse(patch.name ?? current.name);
	const secret =
		replacement === undefined || replacement === ''
			? null
			: credentialSecretSchemas[current.kind].safeParse(replacement);
	if (!settings.success || !name.success || secret?.success === false)
		throw new ServiceError('invalid', 'The credential is not valid.', {
			fields: { ...issuesOf(settings), ...issuesOf(name, 'name'), ...issuesOf(secret, field) }
		});
	const newName = name.data;
	const newSecret = secret?.data ?? null;
	return uniqueName(
		ctx.db.transaction(async (tx) => {
			const values: Parameters<typeof credentials.update>[3] = {
				name: newName,
				settings: storedSettings(settings.data),
				updatedAt: ctx.now()
			};
			if (newSecret !== null) {
				const keyVersion = await credentials.lockKeyVersion(tx, 'share');
				values.keyVersion = keyVersion;
				values.sealedSecret = sealSecret(ctx.keys.credentials, keyVersion, current, newSecret);
				values.hint = secretHint(newSecret);
			}
			const updated = await credentials.update(tx, workspaceId, current.id, values);
			if (updated === null) throw notFound('Credential not found.');
			await recordAudit(tx, meta, {
				action: 'credential.update',
				actorUserId: principal.user.id,
				workspaceId,
				target: { type: 'credential', id: current.id },
				details: {
					changed: [...(newName !== current.name ? ['name'] : []), ...Object.keys(changedSettings)],
					secretReplaced: newSecret !== null
				}
			});
			return toView(updated);
		})
	);
}

export async function deleteCredential(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	credentialId: string,
	meta: RequestMeta
): Promise<void> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'credentials.manage');
	const current = await loadCredential(ctx, workspaceId, credentialId);
	await ctx.db.transaction(async (tx) => {
		// Model providers hold their key by reference (the foreign key restricts the delete).
		const providers = await modelProviders.namesUsingCredential(tx, current.id);
		if (providers.length > 0)
			throw new ServiceError(
				'conflict',
				`“${current.name}” is the key of the model ${providers.length === 1 ? 'provider' : 'providers'} ${providers.map((name) => `“${name}”`).join(', ')}; give them another credential first.`
			);
		if ((await credentials.remove(tx, workspaceId, current.id)) === null)
			throw notFound('Credential not found.');
		await recordAudit(tx, meta, {
			action: 'credential.delete',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'credential', id: current.id },
			details: { kind: current.kind, name: current.name }
		});
	});
}

/**
 * For the engine, host side: the credential with its secret, for `applyCredential` and the
 * redactor. A workflow names a credential by id; one of another workspace is not found. Throws
 * UnreadableCredentialError (fails closed) when the stored secret does not decrypt.
 */
export async function resolveCredential(
	ctx: CredentialContext,
	workspaceId: string,
	credentialId: string
): Promise<ResolvedCredential> {
	const row =
		isUuid(workspaceId) && isUuid(credentialId)
			? await credentials.get(ctx.db, workspaceId, credentialId)
			: null;
	if (row === null) throw notFound('Credential not found.');
	const secret = openSecret(ctx.keys.credentials, row);
	const now = ctx.now();
	if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > touchEveryMs)
		await credentials.touch(ctx.db, row.id, now);
	return { id: row.id, name: row.name, ...joinSecret(settingsOf(row), secret) };
}

/** Credentials for the engine's steps: a run's steps act for the run, authorized when it started. */
export function credentialLookup(ctx: CredentialContext): CredentialLookup {
	return async (workspaceId, credentialId) => {
		try {
			return await resolveCredential(ctx, workspaceId, credentialId);
		} catch (error) {
			if (error instanceof ServiceError && error.type === 'not-found') return null;
			throw error;
		}
	};
}

export type KeyRotation = { fromVersion: number; toVersion: number; reencrypted: number };

/**
 * Re-encrypts every credential under the next key version, in one transaction: either all move or
 * none does (a secret that does not decrypt aborts it). Running it again just moves on a version.
 */
export async function rotateCredentialKey(
	ctx: CredentialContext,
	meta: RequestMeta
): Promise<KeyRotation> {
	return ctx.db.transaction(async (tx) => {
		const fromVersion = await credentials.lockKeyVersion(tx, 'update');
		const toVersion = fromVersion + 1;
		const rows = await credentials.lockAll(tx);
		for (const row of rows) {
			const secret = openSecret(ctx.keys.credentials, row);
			await credentials.update(tx, row.workspaceId, row.id, {
				sealedSecret: sealSecret(ctx.keys.credentials, toVersion, row, secret),
				keyVersion: toVersion
			});
		}
		await credentials.setKeyVersion(tx, toVersion, ctx.now());
		await recordAudit(tx, meta, {
			action: 'credential.key-rotate',
			target: { type: 'credential_key', id: String(toVersion) },
			details: { fromVersion, toVersion, reencrypted: rows.length }
		});
		return { fromVersion, toVersion, reencrypted: rows.length };
	});
}
