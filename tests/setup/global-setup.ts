import { PGlite } from '@electric-sql/pglite';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/lib/server/db/index.ts';
import { migrateDatabase } from '../../src/lib/server/db/migrate.ts';
import { adminStatement, databaseUrl, uniqueDatabaseName } from '../helpers/postgres-admin.ts';

declare module 'vitest' {
	export interface ProvidedContext {
		pgliteTemplateFile: string | null;
		postgresTemplate: string | null;
	}
}

/**
 * Migrates one template database per test run; each test file then gets a cheap copy of it
 * (a PGlite data-dir dump, or CREATE DATABASE … TEMPLATE on PostgreSQL) instead of migrating again.
 */
export default async function setup(project: TestProject) {
	const serverUrl = process.env.TEST_DATABASE_URL;
	if (serverUrl) {
		const template = uniqueDatabaseName('awe_template');
		await adminStatement(serverUrl, `create database "${template}"`);
		const database = await openDatabase({
			url: databaseUrl(serverUrl, template),
			maxConnections: 1
		});
		try {
			await migrateDatabase(database);
		} finally {
			await database.close();
		}
		project.provide('postgresTemplate', template);
		project.provide('pgliteTemplateFile', null);
		return () => adminStatement(serverUrl, `drop database if exists "${template}" with (force)`);
	}

	const folder = await mkdtemp(path.join(tmpdir(), 'awe-test-'));
	const file = path.join(folder, 'template.tar');
	const pglite = await PGlite.create();
	const database = await openDatabase({ pglite });
	try {
		await migrateDatabase(database);
		const dump = await pglite.dumpDataDir('none');
		await writeFile(file, Buffer.from(await dump.arrayBuffer()));
	} finally {
		await database.close();
	}
	project.provide('pgliteTemplateFile', file);
	project.provide('postgresTemplate', null);
	return () => rm(folder, { recursive: true, force: true });
}
