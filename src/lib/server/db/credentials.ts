import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { credentialEncryption, credentials, type Credential } from './schema/index.ts';

export async function create(db: Db, values: typeof credentials.$inferInsert): Promise<Credential> {
	const [credential] = await db.insert(credentials).values(values).returning();
	if (!credential) throw new Error('insert returned no row');
	return credential;
}

export async function get(db: Db, workspaceId: string, id: string): Promise<Credential | null> {
	const [credential] = await db
		.select()
		.from(credentials)
		.where(and(eq(credentials.workspaceId, workspaceId), eq(credentials.id, id)));
	return credential ?? null;
}

export async function list(db: Db, workspaceId: string): Promise<Credential[]> {
	return db
		.select()
		.from(credentials)
		.where(eq(credentials.workspaceId, workspaceId))
		.orderBy(asc(sql`lower(${credentials.name})`), asc(credentials.id));
}

export async function update(
	db: Db,
	workspaceId: string,
	id: string,
	values: Partial<
		Pick<Credential, 'name' | 'settings' | 'sealedSecret' | 'keyVersion' | 'hint' | 'updatedAt'>
	>
): Promise<Credential | null> {
	const [credential] = await db
		.update(credentials)
		.set(values)
		.where(and(eq(credentials.workspaceId, workspaceId), eq(credentials.id, id)))
		.returning();
	return credential ?? null;
}

export async function remove(db: Db, workspaceId: string, id: string): Promise<Credential | null> {
	const [deleted] = await db
		.delete(credentials)
		.where(and(eq(credentials.workspaceId, workspaceId), eq(credentials.id, id)))
		.returning();
	return deleted ?? null;
}

export async function touch(db: Db, id: string, now: Date): Promise<void> {
	await db.update(credentials).set({ lastUsedAt: now }).where(eq(credentials.id, id));
}

/**
 * The key version to seal new secrets with. Call inside a transaction: `share` holds off a rotation
 * until the caller's secret is stored (so the rotation re-encrypts it too); the rotation takes
 * `update`, which waits for those and blocks new ones.
 */
export async function lockKeyVersion(db: Db, mode: 'share' | 'update'): Promise<number> {
	const [row] = await db
		.select({ keyVersion: credentialEncryption.keyVersion })
		.from(credentialEncryption)
		.where(eq(credentialEncryption.id, 1))
		.for(mode);
	if (!row) throw new Error('credential_encryption has no row: are the migrations applied?');
	return row.keyVersion;
}

export async function setKeyVersion(db: Db, keyVersion: number, now: Date): Promise<void> {
	await db
		.update(credentialEncryption)
		.set({ keyVersion, rotatedAt: now })
		.where(eq(credentialEncryption.id, 1));
}

/** Every credential of every workspace, locked until the transaction ends (for re-encryption). */
export async function lockAll(db: Db): Promise<Credential[]> {
	return db.select().from(credentials).orderBy(asc(credentials.id)).for('update');
}

/** Whether a failed statement broke the one-name-per-workspace rule (drizzle wraps the driver error). */
export function isDuplicateName(error: unknown): boolean {
	let cause = error;
	for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth += 1) {
		const { code, constraint, constraint_name } = cause as Record<string, unknown>;
		// postgres.js names the index in `constraint_name`, PGlite in `constraint`.
		if (code === '23505')
			return (constraint_name ?? constraint) === 'credentials_workspace_name_idx';
		cause = (cause as { cause?: unknown }).cause;
	}
	return false;
}
