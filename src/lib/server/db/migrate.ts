import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import path from 'node:path';
import type { Database } from './index.ts';

/** The committed drizzle-kit output; AWE runs from its install folder (as `npm start` and the image do). */
export const migrationsFolder = path.resolve('drizzle');

// Arbitrary constant: serializes migrations when several processes start against one PostgreSQL.
const migrationLockKey = 7_215_540_113;

export async function migrateDatabase(database: Database): Promise<void> {
	if (database.driver === 'pglite') {
		await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder });
		return;
	}
	// Lock and migrate on one connection: the session-level lock is held exactly as long as needed.
	await database.withDedicatedConnection(async ({ db, exec }) => {
		await exec(`select pg_advisory_lock(${migrationLockKey})`);
		try {
			await migratePostgres(db as unknown as PostgresJsDatabase, { migrationsFolder });
		} finally {
			await exec(`select pg_advisory_unlock(${migrationLockKey})`);
		}
	});
}

export interface MigrationStatus {
	expected: number;
	applied: number;
	upToDate: boolean;
}

/** Compares the migrations shipped with this build with those recorded in the database. */
export async function migrationStatus(database: Database): Promise<MigrationStatus> {
	const shipped = readMigrationFiles({ migrationsFolder });
	const latest = shipped.at(-1)?.folderMillis ?? 0;
	const table = rows<{ present: boolean }>(
		await database.db.execute(
			sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`
		)
	);
	if (!table[0]?.present)
		return { expected: shipped.length, applied: 0, upToDate: shipped.length === 0 };
	const [row] = rows<{ applied: number; newest: string | null }>(
		await database.db.execute(
			sql`select count(*)::int as applied, max(created_at)::text as newest from drizzle.__drizzle_migrations`
		)
	);
	const applied = row?.applied ?? 0;
	return { expected: shipped.length, applied, upToDate: Number(row?.newest ?? 0) >= latest };
}

/** postgres.js returns an array of rows, PGlite an object with `rows`. */
export function rows<T>(result: unknown): T[] {
	return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}
