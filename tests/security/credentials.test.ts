import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CreateCredentialInput } from '../../src/lib/schemas/credentials.ts';
import {
	UnreadableCredentialError,
	createCredentialKeyring,
	openSecret
} from '../../src/lib/server/credentials/keyring.ts';
import {
	auditLog,
	credentialEncryption,
	credentials,
	type Credential
} from '../../src/lib/server/db/schema/index.ts';
import {
	createCredential,
	resolveCredential,
	rotateCredentialKey
} from '../../src/lib/server/services/credentials.ts';
import { createWorkspace } from '../../src/lib/server/services/workspaces.ts';
import { useAppServer } from '../helpers/app-server.ts';
import { useTestDatabase } from '../helpers/database.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { createTestServices, meta, signUpUser } from '../helpers/services.ts';
import { signUpFirst } from './support.ts';

/**
 * Secrets at rest: encrypted, bound to their row, failing closed when altered, and re-encrypted by a
 * key rotation. Checked on the database itself; mass assignment is checked over HTTP.
 */

const testDb = useTestDatabase();

const secrets = {
	apiKey: 'sk-at-rest-apikey-0123456789',
	token: 'at-rest-bearer-token-abcdef',
	password: 'at rest pässword 42',
	header: 'at-rest-header-value-xyz',
	openai: 'sk-at-rest-openai-987654321',
	anthropic: 'sk-ant-at-rest-13579'
};

const inputs: CreateCredentialInput[] = [
	{ kind: 'api_key', name: 'A', headerName: 'X-API-Key', key: secrets.apiKey },
	{ kind: 'bearer', name: 'B', token: secrets.token },
	{ kind: 'basic', name: 'C', username: 'ada', password: secrets.password },
	{ kind: 'header', name: 'D', headerName: 'X-Token', value: secrets.header },
	{ kind: 'openai', name: 'E', apiKey: secrets.openai, baseUrl: null, organization: null },
	{ kind: 'anthropic', name: 'F', apiKey: secrets.anthropic, baseUrl: null }
];

/** A workspace holding one credential of each kind. */
async function seeded() {
	const ctx = createTestServices(testDb.database);
	const owner = await signUpUser(ctx);
	const workspace = await createWorkspace(ctx, owner.principal, { name: 'Vault' }, meta);
	const created = [];
	for (const input of inputs)
		created.push(await createCredential(ctx, owner.principal, workspace.id, input, meta));
	return { ctx, owner, workspaceId: workspace.id, ids: created.map((credential) => credential.id) };
}

async function rowsOf(ctx: ReturnType<typeof createTestServices>, workspaceId: string) {
	return ctx.db.select().from(credentials).where(eq(credentials.workspaceId, workspaceId));
}

async function rowOf(ctx: ReturnType<typeof createTestServices>, id: string): Promise<Credential> {
	const [row] = await ctx.db.select().from(credentials).where(eq(credentials.id, id));
	if (!row) throw new Error('no such credential');
	return row;
}

function spellings(secret: string): string[] {
	const bytes = Buffer.from(secret, 'utf8');
	return [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

describe('credentials at rest', () => {
	it('hold no secret in any column, nor in the audit log, in any common encoding', async () => {
		const { ctx, workspaceId } = await seeded();
		const stored = JSON.stringify(await rowsOf(ctx, workspaceId));
		const audited = JSON.stringify(
			await ctx.db.select().from(auditLog).where(eq(auditLog.workspaceId, workspaceId))
		);
		for (const secret of Object.values(secrets))
			for (const spelling of spellings(secret)) {
				expect(stored).not.toContain(spelling);
				expect(audited).not.toContain(spelling);
			}
		expect(stored).not.toContain('ada:');
	});

	it('seal the same secret differently every time (random IV)', async () => {
		const { ctx, owner, workspaceId } = await seeded();
		const twin = await createCredential(
			ctx,
			owner.principal,
			workspaceId,
			{ kind: 'bearer', name: 'Twin', token: secrets.token },
			meta
		);
		const sealed = (await rowsOf(ctx, workspaceId))
			.filter((row) => row.kind === 'bearer')
			.map((row) => row.sealedSecret);
		expect(sealed).toHaveLength(2);
		expect(sealed[0]).not.toBe(sealed[1]);
		expect(await resolveCredential(ctx, workspaceId, twin.id)).toMatchObject({
			token: secrets.token
		});
	});
});

describe('an altered credential fails closed', () => {
	const tamperings: [string, (row: Credential, other: Credential) => Partial<Credential>][] = [
		[
			'one ciphertext character changed',
			(row) => {
				const parts = row.sealedSecret.split('.');
				const body = parts[3] ?? '';
				parts[3] = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
				return { sealedSecret: parts.join('.') };
			}
		],
		[
			'the tag cut short',
			(row) => {
				const parts = row.sealedSecret.split('.');
				parts[2] = (parts[2] ?? '').slice(0, 6);
				return { sealedSecret: parts.join('.') };
			}
		],
		[
			'another credential’s ciphertext copied in',
			(_row, other) => ({ sealedSecret: other.sealedSecret })
		],
		['its key version changed', (row) => ({ keyVersion: row.keyVersion + 1 })],
		['garbage', () => ({ sealedSecret: 'v1.garbage' })]
	];

	it.each(tamperings)('%s: resolving throws, naming no secret', async (_name, tamper) => {
		const { ctx, workspaceId, ids } = await seeded();
		const [id, otherId] = ids as [string, string];
		await ctx.db
			.update(credentials)
			.set(tamper(await rowOf(ctx, id), await rowOf(ctx, otherId)))
			.where(eq(credentials.id, id));
		const failure = await resolveCredential(ctx, workspaceId, id).then(
			() => null,
			(error: unknown) => error
		);
		expect(failure).toBeInstanceOf(UnreadableCredentialError);
		expect(String(failure)).not.toContain(secrets.apiKey);
		// The others still resolve.
		expect(await resolveCredential(ctx, workspaceId, otherId)).toMatchObject({
			token: secrets.token
		});
		// A broken row would stop the key rotation tests below.
		await ctx.db.delete(credentials).where(eq(credentials.id, id));
	});

	it('moved to another workspace, it no longer decrypts', async () => {
		const { ctx, owner, ids } = await seeded();
		const other = await createWorkspace(ctx, owner.principal, { name: 'Other' }, meta);
		await ctx.db
			.update(credentials)
			.set({ workspaceId: other.id })
			.where(eq(credentials.id, ids[0] ?? ''));
		await expect(resolveCredential(ctx, other.id, ids[0] ?? '')).rejects.toBeInstanceOf(
			UnreadableCredentialError
		);
		await ctx.db.delete(credentials).where(eq(credentials.id, ids[0] ?? ''));
	});

	it('under another server secret, nothing decrypts', async () => {
		const { ctx, ids } = await seeded();
		const otherKeys = createCredentialKeyring('another-server-secret-0123456789abcdef');
		const row = await rowOf(ctx, ids[1] ?? '');
		expect(() => openSecret(otherKeys, row)).toThrow(UnreadableCredentialError);
		expect(openSecret(ctx.keys.credentials, row)).toBe(secrets.token);
	});

	it('aborts a key rotation, which then changes nothing at all', async () => {
		const { ctx, ids } = await seeded();
		const [version] = await ctx.db.select().from(credentialEncryption);
		await ctx.db
			.update(credentials)
			.set({ sealedSecret: 'v1.garbage.x.y' })
			.where(eq(credentials.id, ids[2] ?? ''));
		const before = await ctx.db.select().from(credentials);
		await expect(rotateCredentialKey(ctx, meta)).rejects.toBeInstanceOf(UnreadableCredentialError);
		expect(await ctx.db.select().from(credentials)).toEqual(before);
		expect(await ctx.db.select().from(credentialEncryption)).toEqual([version]);
		// Deleting the broken one lets the rotation through.
		await ctx.db.delete(credentials).where(eq(credentials.id, ids[2] ?? ''));
		await expect(rotateCredentialKey(ctx, meta)).resolves.toMatchObject({
			toVersion: (version?.keyVersion ?? 0) + 1
		});
	});
});

describe('key rotation', () => {
	it('re-encrypts every credential under the next version; the old key opens none of them', async () => {
		const { ctx, owner, workspaceId, ids } = await seeded();
		// Every credential in the database moves, so the check covers other tests' rows too.
		const before = new Map((await ctx.db.select().from(credentials)).map((row) => [row.id, row]));
		const { fromVersion, toVersion, reencrypted } = await rotateCredentialKey(ctx, meta);
		const after = await ctx.db.select().from(credentials);
		expect(reencrypted).toBe(after.length);
		const oldKey = ctx.keys.credentials(fromVersion);
		expect(oldKey.equals(ctx.keys.credentials(toVersion))).toBe(false);
		for (const row of after) {
			expect(row.keyVersion).toBe(toVersion);
			expect(row.sealedSecret).not.toBe(before.get(row.id)?.sealedSecret);
			expect(() => openSecret(() => oldKey, row)).toThrow(UnreadableCredentialError);
		}
		for (const [index, id] of ids.entries()) {
			const resolved = await resolveCredential(ctx, workspaceId, id);
			expect(resolved.kind).toBe(inputs[index]?.kind);
		}
		expect(await resolveCredential(ctx, workspaceId, ids[2] ?? '')).toMatchObject({
			password: secrets.password
		});
		// What is saved from now on uses the new version too.
		const later = await createCredential(
			ctx,
			owner.principal,
			workspaceId,
			{ kind: 'bearer', name: 'Later', token: 'later-token' },
			meta
		);
		expect((await rowOf(ctx, later.id)).keyVersion).toBe(toVersion);
		const [state] = await ctx.db.select().from(credentialEncryption);
		expect(state).toMatchObject({ keyVersion: toVersion, rotatedAt: ctx.now() });
	});
});

describe('mass assignment over HTTP', () => {
	const app = useAppServer();
	let owner: TestClient;
	let workspace: string;
	let other: string;

	beforeAll(async () => {
		const first = await signUpFirst(app.url);
		owner = first.client;
		workspace = first.workspaceId;
		const created = await owner.json('/api/v1/workspaces', 'POST', { name: 'Other' });
		other = ((await created.json()) as { id: string }).id;
	});

	const planted = {
		id: randomUUID(),
		hint: '••••FAKE',
		sealedSecret: 'v1.planted.planted.planted',
		sealed_secret: 'v1.planted.planted.planted',
		keyVersion: 99,
		key_version: 99,
		lastUsedAt: '2000-01-01T00:00:00Z',
		createdAt: '2000-01-01T00:00:00Z',
		createdBy: randomUUID()
	};

	it('POST ignores id, workspace, hint, sealed and key fields in the body', async () => {
		const response = await owner.json(`/api/v1/workspaces/${workspace}/credentials`, 'POST', {
			kind: 'bearer',
			name: 'Planted',
			token: 'real-token-value-1234',
			workspaceId: other,
			workspace_id: other,
			...planted
		});
		expect(response.status).toBe(201);
		const created = (await response.json()) as Record<string, unknown>;
		expect(created).toMatchObject({ kind: 'bearer', name: 'Planted', hint: '••••1234' });
		expect(created.id).not.toBe(planted.id);
		expect(created.lastUsedAt).toBeNull();
		expect(created.createdAt).not.toMatch(/^2000/);
		expect(Object.keys(created)).not.toContain('sealedSecret');
		expect(Object.keys(created)).not.toContain('keyVersion');
		const inOther = await owner.request(`/api/v1/workspaces/${other}/credentials`);
		expect(await inOther.json()).toEqual([]);
		const read = await owner.request(`/api/v1/workspaces/${workspace}/credentials/${created.id}`);
		expect(await read.json()).toEqual(created);
	});

	it('PATCH ignores kind, id, workspace, hint, sealed and key fields', async () => {
		const response = await owner.json(`/api/v1/workspaces/${workspace}/credentials`, 'POST', {
			kind: 'api_key',
			name: 'Patched',
			key: 'patched-key-value-5678'
		});
		const created = (await response.json()) as { id: string; updatedAt: string };
		const patched = await owner.json(
			`/api/v1/workspaces/${workspace}/credentials/${created.id}`,
			'PATCH',
			{ kind: 'bearer', workspaceId: other, ...planted, name: 'Patched 2' }
		);
		expect(patched.status).toBe(200);
		const body = (await patched.json()) as Record<string, unknown>;
		expect(body).toMatchObject({
			id: created.id,
			kind: 'api_key',
			name: 'Patched 2',
			headerName: 'X-API-Key',
			hint: '••••5678',
			lastUsedAt: null
		});
		const inOther = await owner.request(`/api/v1/workspaces/${other}/credentials/${created.id}`);
		expect(inOther.status).toBe(404);
		await inOther.body?.cancel();
	});
});
