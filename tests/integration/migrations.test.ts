import { PGlite } from '@electric-sql/pglite';
import { is, sql } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { openDatabase, schema, type Database } from '../../src/lib/server/db/index.ts';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import {
	migrateDatabase,
	migrationsFolder,
	migrationStatus,
	rows
} from '../../src/lib/server/db/migrate.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { adminStatement, databaseUrl, uniqueDatabaseName } from '../helpers/postgres-admin.ts';

const testDb = useTestDatabase();
const serverUrl = process.env.TEST_DATABASE_URL;

interface ColumnRow {
	table_name: string;
	column_name: string;
	data_type: string;
	is_nullable: string;
	column_default: string | null;
}

async function describeSchema(database: Database) {
	const columns = rows<ColumnRow>(
		await database.db.execute(sql`
			select table_name, column_name, data_type, is_nullable, column_default
			from information_schema.columns where table_schema = 'public'
			order by table_name, column_name`)
	);
	const indexes = rows<{ indexdef: string }>(
		await database.db.execute(
			sql`select indexdef from pg_indexes where schemaname = 'public' order by indexname`
		)
	).map((row) => row.indexdef);
	return { columns, indexes };
}

const tables = Object.values(schema).filter((value) => is(value, PgTable)) as PgTable[];

describe('migrations', () => {
	it('create every table and column of the Drizzle schema, with its nullability', async () => {
		const { columns } = await describeSchema(testDb.database);
		expect(tables.length).toBeGreaterThanOrEqual(5);
		for (const table of tables) {
			const config = getTableConfig(table);
			const actual = columns
				.filter((column) => column.table_name === config.name)
				.map((column) => [column.column_name, column.is_nullable === 'NO']);
			const expected = config.columns.map((column) => [column.name, column.notNull]);
			expect(actual.sort()).toEqual(expected.sort());
		}
	});

	it('are recorded as up to date, and applying them again changes nothing', async () => {
		const before = await describeSchema(testDb.database);
		await migrateDatabase(testDb.database);
		expect(await migrationStatus(testDb.database)).toMatchObject({
			upToDate: true,
			applied: readMigrationFiles({ migrationsFolder }).length
		});
		expect(await describeSchema(testDb.database)).toEqual(before);
	});

	// A fresh PGlite takes seconds to create; allow for a busy machine.
	it.runIf(serverUrl)(
		'produce the same tables, columns and indexes on PGlite and PostgreSQL',
		{ timeout: 120_000 },
		async () => {
			const pglite = await openDatabase({ pglite: await PGlite.create() });
			try {
				await migrateDatabase(pglite);
				expect(await describeSchema(pglite)).toEqual(await describeSchema(testDb.database));
			} finally {
				await pglite.close();
			}
		}
	);

	it.runIf(serverUrl)('are applied once when several processes start together', async () => {
		const url = serverUrl as string;
		const name = uniqueDatabaseName('awe_race');
		await adminStatement(url, `create database "${name}"`);
		const starters = await Promise.all(
			[1, 2, 3].map(() => openDatabase({ url: databaseUrl(url, name), maxConnections: 2 }))
		);
		try {
			await Promise.all(starters.map((database) => migrateDatabase(database)));
			expect(await migrationStatus(starters[0] as Database)).toMatchObject({
				applied: readMigrationFiles({ migrationsFolder }).length,
				upToDate: true
			});
		} finally {
			await Promise.all(starters.map((database) => database.close()));
			await adminStatement(url, `drop database if exists "${name}" with (force)`);
		}
	});
});
