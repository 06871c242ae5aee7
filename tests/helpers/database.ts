import { PGlite } from '@electric-sql/pglite';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, inject } from 'vitest';
import { openDatabase, type Database } from '../../src/lib/server/db/index.ts';
import { adminStatement, databaseUrl, uniqueDatabaseName } from './postgres-admin.ts';

export interface TestDatabase {
	database: Database;
	/** The connection URL on PostgreSQL runs; null on PGlite. */
	url: string | null;
	drop(): Promise<void>;
}

/**
 * A fresh, migrated database: a real PostgreSQL database cloned from the run's template when
 * TEST_DATABASE_URL is set, otherwise a PGlite instance loaded from the template dump.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
	const serverUrl = process.env.TEST_DATABASE_URL;
	const template = inject('postgresTemplate');
	if (serverUrl && template) {
		const name = uniqueDatabaseName('awe_test');
		await adminStatement(serverUrl, `create database "${name}" template "${template}"`);
		const url = databaseUrl(serverUrl, name);
		const database = await openDatabase({ url, maxConnections: 4 });
		return {
			database,
			url,
			async drop() {
				await database.close();
				await adminStatement(serverUrl, `drop database if exists "${name}" with (force)`);
			}
		};
	}
	const templateFile = inject('pgliteTemplateFile');
	if (!templateFile) throw new Error('the global test setup provided no database template');
	const pglite = await PGlite.create({ loadDataDir: new Blob([await readFile(templateFile)]) });
	const database = await openDatabase({ pglite });
	return { database, url: null, drop: () => database.close() };
}

/** One fresh database for the whole test file: `const testDb = useTestDatabase()` then `testDb.database`. */
export function useTestDatabase(): { readonly database: Database; readonly url: string | null } {
	let current: TestDatabase | undefined;
	beforeAll(async () => {
		current = await createTestDatabase();
	});
	afterAll(async () => {
		await current?.drop();
	});
	return {
		get database() {
			if (!current) throw new Error('the test database is only available inside tests');
			return current.database;
		},
		get url() {
			return current?.url ?? null;
		}
	};
}
