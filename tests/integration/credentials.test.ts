import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { applyCredential, credentialSecrets } from '../../src/lib/server/credentials/apply.ts';
import { createRedactor } from '../../src/lib/server/credentials/redact.ts';
import * as audit from '../../src/lib/server/db/audit.ts';
import { openDatabase, type Database } from '../../src/lib/server/db/index.ts';
import { migrateDatabase } from '../../src/lib/server/db/migrate.ts';
import { credentialEncryption, credentials } from '../../src/lib/server/db/schema/index.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import {
	createCredential,
	deleteCredential,
	getCredential,
	listCredentials,
	resolveCredential,
	rotateCredentialKey,
	secretHint,
	updateCredential
} from '../../src/lib/server/services/credentials.ts';
import { createInvite, createWorkspace } from '../../src/lib/server/services/workspaces.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createTestServices, meta, signUpUser, testSecret } from '../helpers/services.ts';

const testDb = useTestDatabase();

async function outcome(promise: Promise<unknown>): Promise<string> {
	try {
		await promise;
		return 'ok';
	} catch (error) {
		if (error instanceof ServiceError) return error.type;
		throw error;
	}
}

/** A workspace with one member of each role, plus an outsider with a workspace of their own. */
async function team() {
	const ctx = createTestServices(testDb.database);
	const owner = await signUpUser(ctx, { name: 'Owner' });
	const workspace = await createWorkspace(ctx, owner.principal, { name: 'Team' }, meta);
	const members: Record<string, Principal> = { owner: owner.principal };
	for (const role of ['admin', 'editor', 'viewer'] as const) {
		const invite = await createInvite(ctx, owner.principal, workspace.id, { role }, meta);
		members[role] = (await signUpUser(ctx, { name: role, inviteToken: invite.token })).principal;
	}
	const outsider = (await signUpUser(ctx, { name: 'Outsider' })).principal;
	const elsewhere = await createWorkspace(ctx, outsider, { name: 'Elsewhere' }, meta);
	return { ctx, workspaceId: workspace.id, members, outsider, elsewhere: elsewhere.id };
}

const longKey = 'sk-test-0123456789abcdefWXYZ';

describe('credential services', () => {
	it('let viewers read, editors and up manage, and answer 404 to outsiders', async () => {
		const { ctx, workspaceId, members, outsider } = await team();
		const seed = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ kind: 'bearer', name: 'Seed', token: longKey },
			meta
		);
		let counter = 0;
		const actions: Record<string, (principal: Principal) => Promise<unknown>> = {
			list: (p) => listCredentials(ctx, p, workspaceId),
			get: (p) => getCredential(ctx, p, workspaceId, seed.id),
			create: (p) =>
				createCredential(
					ctx,
					p,
					workspaceId,
					{ kind: 'bearer', name: `New ${(counter += 1)}`, token: 't' },
					meta
				),
			update: (p) => updateCredential(ctx, p, workspaceId, seed.id, { name: 'Seed' }, meta)
		};
		const results: Record<string, Record<string, string>> = {};
		for (const [who, principal] of Object.entries({ ...members, outsider })) {
			results[who] = {};
			for (const [name, action] of Object.entries(actions))
				results[who][name] = await outcome(action(principal));
		}
		const manage = { list: 'ok', get: 'ok', create: 'ok', update: 'ok' };
		expect(results).toEqual({
			owner: manage,
			admin: manage,
			editor: manage,
			viewer: { list: 'ok', get: 'ok', create: 'forbidden', update: 'forbidden' },
			outsider: { list: 'not-found', get: 'not-found', create: 'not-found', update: 'not-found' }
		});
		expect(await outcome(deleteCredential(ctx, members.viewer!, workspaceId, seed.id, meta))).toBe(
			'forbidden'
		);
		expect(await outcome(deleteCredential(ctx, outsider, workspaceId, seed.id, meta))).toBe(
			'not-found'
		);
		expect(await outcome(deleteCredential(ctx, members.editor!, workspaceId, seed.id, meta))).toBe(
			'ok'
		);
	});

	it('show settings and a hint, never the secret', async () => {
		const { ctx, workspaceId, members } = await team();
		const created = await createCredential(
			ctx,
			members.editor!,
			workspaceId,
			{ kind: 'api_key', name: 'Shop', headerName: 'X-Shop-Key', key: longKey },
			meta
		);
		expect(created).toMatchObject({
			kind: 'api_key',
			name: 'Shop',
			headerName: 'X-Shop-Key',
			hint: '••••WXYZ',
			lastUsedAt: null
		});
		const listed = await listCredentials(ctx, members.viewer!, workspaceId);
		const read = await getCredential(ctx, members.viewer!, workspaceId, created.id);
		for (const shown of [created, listed, read]) expect(JSON.stringify(shown)).not.toContain('sk-');
		expect(Object.keys(read).sort()).toEqual(
			['createdAt', 'headerName', 'hint', 'id', 'kind', 'lastUsedAt', 'name', 'updatedAt'].sort()
		);
	});

	it('mask short secrets entirely', () => {
		expect(secretHint('short-secret')).toBe('••••cret');
		expect(secretHint('11-chars-xx')).toBe('••••');
		expect(secretHint('')).toBe('••••');
		expect(secretHint('pässwörd-lang-😀')).toBe('••••ng-😀');
	});

	it('refuse a second credential of the same name in a workspace, whatever its case', async () => {
		const { ctx, workspaceId, members, outsider, elsewhere } = await team();
		const input = { kind: 'bearer', name: 'Billing', token: 't' } as const;
		const first = await createCredential(ctx, members.owner!, workspaceId, input, meta);
		const again = createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ ...input, name: 'BILLING' },
			meta
		);
		await expect(again).rejects.toMatchObject({
			type: 'conflict',
			fields: { name: 'Already taken.' }
		});
		const other = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ ...input, name: 'Other' },
			meta
		);
		await expect(
			updateCredential(ctx, members.owner!, workspaceId, other.id, { name: 'billing' }, meta)
		).rejects.toMatchObject({ type: 'conflict' });
		// Another workspace may use the name.
		await createCredential(ctx, outsider, elsewhere, input, meta);
		expect((await getCredential(ctx, members.owner!, workspaceId, first.id)).name).toBe('Billing');
	});

	it('keep the secret when an update leaves it empty, and replace it when given', async () => {
		const { ctx, workspaceId, members } = await team();
		const created = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ kind: 'basic', name: 'Legacy', username: 'ada', password: 'first password' },
			meta
		);
		const renamed = await updateCredential(
			ctx,
			members.owner!,
			workspaceId,
			created.id,
			{ name: 'Legacy API', username: 'grace', password: '' },
			meta
		);
		expect(renamed).toMatchObject({ name: 'Legacy API', username: 'grace', hint: created.hint });
		expect(await resolveCredential(ctx, workspaceId, created.id)).toMatchObject({
			kind: 'basic',
			username: 'grace',
			password: 'first password'
		});
		const replaced = await updateCredential(
			ctx,
			members.owner!,
			workspaceId,
			created.id,
			{ password: 'a much longer second password' },
			meta
		);
		expect(replaced.hint).toBe('••••word');
		expect(await resolveCredential(ctx, workspaceId, created.id)).toMatchObject({
			password: 'a much longer second password'
		});
	});

	it('check updates against the credential’s kind and ignore fields of other kinds', async () => {
		const { ctx, workspaceId, members } = await team();
		const created = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ kind: 'openai', name: 'AI', apiKey: 'sk-a', baseUrl: null, organization: null },
			meta
		);
		const invalid = updateCredential(
			ctx,
			members.owner!,
			workspaceId,
			created.id,
			{ baseUrl: 'ftp://models.example', apiKey: 'bad\nkey' },
			meta
		);
		await expect(invalid).rejects.toMatchObject({
			type: 'invalid',
			fields: { baseUrl: expect.any(String), apiKey: expect.any(String) }
		});
		const updated = await updateCredential(
			ctx,
			members.owner!,
			workspaceId,
			created.id,
			{
				baseUrl: 'https://models.example/v1',
				organization: 'org-1',
				headerName: 'X-Ignored',
				token: 'ignored'
			},
			meta
		);
		expect(updated).toEqual(
			expect.objectContaining({
				kind: 'openai',
				baseUrl: 'https://models.example/v1',
				organization: 'org-1'
			})
		);
		expect(updated).not.toHaveProperty('headerName');
		expect(await resolveCredential(ctx, workspaceId, created.id)).toMatchObject({ apiKey: 'sk-a' });
		const cleared = await updateCredential(
			ctx,
			members.owner!,
			workspaceId,
			created.id,
			{ baseUrl: '', organization: null },
			meta
		);
		expect(cleared).toMatchObject({ baseUrl: null, organization: null });
	});

	it('record create, update and delete in the audit log, without the secret', async () => {
		const { ctx, workspaceId, members } = await team();
		const secret = 'audit-secret-value-123456';
		const created = await createCredential(
			ctx,
			members.admin!,
			workspaceId,
			{ kind: 'header', name: 'Audited', headerName: 'X-Token', value: secret },
			meta
		);
		await updateCredential(
			ctx,
			members.admin!,
			workspaceId,
			created.id,
			{ value: `${secret}-2`, name: 'Audited 2' },
			meta
		);
		await deleteCredential(ctx, members.admin!, workspaceId, created.id, meta);
		const entries = (await audit.list(ctx.db, { limit: 1000 })).filter(
			(entry) => entry.targetId === created.id
		);
		expect(entries.map((entry) => entry.action).sort()).toEqual([
			'credential.create',
			'credential.delete',
			'credential.update'
		]);
		expect(entries.find((entry) => entry.action === 'credential.update')?.details).toEqual({
			changed: ['name'],
			secretReplaced: true
		});
		expect(JSON.stringify(entries)).not.toContain('audit-secret');
	});
});

describe('resolveCredential', () => {
	it('returns the value for applyCredential and the redactor, and notes when it was used', async () => {
		const { ctx, workspaceId, members } = await team();
		const created = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ kind: 'api_key', name: 'Weather', headerName: 'X-API-Key', key: longKey },
			meta
		);
		const resolved = await resolveCredential(ctx, workspaceId, created.id);
		expect(resolved).toEqual({
			id: created.id,
			name: 'Weather',
			kind: 'api_key',
			headerName: 'X-API-Key',
			key: longKey
		});
		expect(applyCredential(resolved, { accept: 'application/json' })).toEqual({
			accept: 'application/json',
			'X-API-Key': longKey
		});
		const redact = createRedactor(credentialSecrets(resolved));
		expect(redact({ echoed: `key ${longKey}` })).toEqual({ echoed: 'key [redacted]' });

		const used = await getCredential(ctx, members.owner!, workspaceId, created.id);
		expect(used.lastUsedAt).toEqual(ctx.now());
		// Touched at most once a minute.
		ctx.clock.advance(30_000);
		await resolveCredential(ctx, workspaceId, created.id);
		expect((await getCredential(ctx, members.owner!, workspaceId, created.id)).lastUsedAt).toEqual(
			used.lastUsedAt
		);
		ctx.clock.advance(31_000);
		await resolveCredential(ctx, workspaceId, created.id);
		expect((await getCredential(ctx, members.owner!, workspaceId, created.id)).lastUsedAt).toEqual(
			ctx.now()
		);
	});

	it('answers not-found for another workspace’s credential and for malformed ids', async () => {
		const { ctx, workspaceId, members, elsewhere } = await team();
		const created = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ kind: 'bearer', name: 'Mine', token: 't' },
			meta
		);
		for (const [workspace, credential] of [
			[elsewhere, created.id],
			[workspaceId, crypto.randomUUID()],
			[workspaceId, 'not-a-uuid'],
			['not-a-uuid', created.id]
		])
			expect(await outcome(resolveCredential(ctx, workspace!, credential!))).toBe('not-found');
		const deleted = await deleteCredential(ctx, members.owner!, workspaceId, created.id, meta);
		expect(deleted).toBeUndefined();
		expect(await outcome(resolveCredential(ctx, workspaceId, created.id))).toBe('not-found');
	});
});

describe('rotateCredentialKey', () => {
	it('moves every credential to the next key version; values keep resolving', async () => {
		const { ctx, workspaceId, members } = await team();
		const created = await createCredential(
			ctx,
			members.owner!,
			workspaceId,
			{ kind: 'anthropic', name: 'Claude', apiKey: longKey, baseUrl: null },
			meta
		);
		const first = await rotateCredentialKey(ctx, meta);
		expect(first.toVersion).toBe(first.fromVersion + 1);
		expect(first.reencrypted).toBeGreaterThanOrEqual(1);
		expect(await resolveCredential(ctx, workspaceId, created.id)).toMatchObject({
			apiKey: longKey
		});
		const second = await rotateCredentialKey(ctx, meta);
		expect(second).toMatchObject({ fromVersion: first.toVersion, toVersion: first.toVersion + 1 });
		expect(await resolveCredential(ctx, workspaceId, created.id)).toMatchObject({
			apiKey: longKey
		});
		const entries = (await audit.list(ctx.db, { action: 'credential.key-rotate', limit: 10 })).map(
			(entry) => entry.details
		);
		expect(entries[0]).toEqual({
			fromVersion: second.fromVersion,
			toVersion: second.toVersion,
			reencrypted: second.reencrypted
		});
	});
});

function runRotation(env: Record<string, string>) {
	return spawnSync(
		process.execPath,
		[
			'--experimental-strip-types',
			'--no-warnings=ExperimentalWarning',
			'scripts/rotate-credentials.ts'
		],
		{
			env: {
				PATH: process.env.PATH ?? '',
				AWE_SECRET_KEY: testSecret,
				LOG_LEVEL: 'silent',
				...env
			},
			encoding: 'utf8',
			timeout: 60_000
		}
	);
}

describe('npm run credentials:rotate', () => {
	// Three real CLI processes, each opening the database itself (a PGlite start takes seconds).
	it('re-encrypts under the next version, says how many, can run again, and fails whole', async () => {
		// The command opens the database itself: this test's PostgreSQL database, or an embedded one
		// in a data directory of its own (an in-memory PGlite cannot be shared with another process).
		const dataDir = testDb.url ? null : await mkdtemp(path.join(tmpdir(), 'awe-rotate-'));
		const env: Record<string, string> = dataDir
			? { DATA_DIR: dataDir }
			: { DATABASE_URL: testDb.url ?? '' };
		const open = async (): Promise<Database> => {
			if (!dataDir) return testDb.database;
			const database = await openDatabase({ dataDir });
			await migrateDatabase(database);
			return database;
		};
		try {
			let database = await open();
			const ctx = createTestServices(database);
			const owner = await signUpUser(ctx);
			const workspace = await createWorkspace(ctx, owner.principal, { name: 'Rotated' }, meta);
			const credential = await createCredential(
				ctx,
				owner.principal,
				workspace.id,
				{ kind: 'bearer', name: 'Rotated', token: longKey },
				meta
			);
			const [state] = await ctx.db.select().from(credentialEncryption);
			const version = state?.keyVersion ?? 0;
			const count = (await ctx.db.select().from(credentials)).length;
			if (dataDir) await database.close();

			const first = runRotation(env);
			expect(first.stderr).toBe('');
			expect(first.status).toBe(0);
			const plural = count === 1 ? 'credential' : 'credentials';
			expect(first.stdout.trim()).toMatch(
				new RegExp(
					`^Credential key rotated from version ${version} to ${version + 1}: ${count} ${plural} re-encrypted \\((pglite|postgres)\\)\\.$`
				)
			);
			const second = runRotation(env);
			expect(second.status).toBe(0);
			expect(second.stdout).toContain(`from version ${version + 1} to ${version + 2}`);
			// Under another server secret nothing decrypts: the command fails and changes nothing.
			const wrongKey = runRotation({
				...env,
				AWE_SECRET_KEY: 'a-different-server-secret-0123456789abcdef'
			});
			expect(wrongKey.status).toBe(1);
			expect(wrongKey.stderr).toMatch(
				/^Rotation failed, nothing was changed: Credential \S+ cannot be decrypted/
			);
			expect(wrongKey.stderr).not.toContain(longKey);

			database = await open();
			const after = createTestServices(database);
			const [row] = await after.db
				.select()
				.from(credentials)
				.where(eq(credentials.id, credential.id));
			expect(row?.keyVersion).toBe(version + 2);
			expect(await resolveCredential(after, workspace.id, credential.id)).toMatchObject({
				token: longKey
			});
			if (dataDir) await database.close();
		} finally {
			if (dataDir) await rm(dataDir, { recursive: true, force: true });
		}
	}, 120_000);
});
