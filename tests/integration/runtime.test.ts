import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/lib/server/db/index.ts';
import { loadConfig } from '../../src/lib/server/platform/config.ts';
import { createRuntime, webRoles } from '../../src/lib/server/runtime.ts';
import { adminStatement, databaseUrl, uniqueDatabaseName } from '../helpers/postgres-admin.ts';

// A port nothing listens on: opening the Redis bus fails at once.
const deadRedis = 'redis://127.0.0.1:1';
const secret = 'runtime-test-secret-key-0123456789abcdef';
const serverUrl = process.env.TEST_DATABASE_URL;

const dataDir = await mkdtemp(path.join(tmpdir(), 'awe-runtime-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe('createRuntime on the embedded database', () => {
	it('closes the database when a later part fails to open', { timeout: 120_000 }, async () => {
		const failing = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', REDIS_URL: deadRedis });
		await expect(createRuntime(failing, { roles: webRoles(failing) })).rejects.toThrow();
		// The data directory's lock is free again: the database was closed, not left open.
		const database = await openDatabase({ dataDir: path.join(dataDir, 'pg') });
		await database.close();

		const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
		const runtime = await createRuntime(config, { roles: ['web', 'realtime'] });
		try {
			expect([...runtime.roles]).toEqual(['web', 'realtime']);
			expect(runtime.worker).toBeNull();
			expect(runtime.realtime).not.toBeNull();
		} finally {
			await runtime.close();
			await runtime.close();
		}
	});

	it('refuses roles that cannot use the embedded database, before opening anything', async () => {
		const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
		await expect(createRuntime(config, { roles: ['worker'] })).rejects.toThrow(
			'A separate worker process needs DATABASE_URL, AWE_SECRET_KEY'
		);
		await expect(createRuntime(config, { roles: ['realtime'] })).rejects.toThrow(
			'A separate realtime process needs DATABASE_URL, REDIS_URL, AWE_SECRET_KEY'
		);
		await expect(createRuntime(config, { roles: [] })).rejects.toThrow('at least one role');
	});
});

describe.skipIf(!serverUrl)('createRuntime on PostgreSQL', () => {
	/** A database of its own; dropping it without FORCE fails while any connection is left open. */
	async function withDatabase(template: string | null, use: (url: string) => Promise<void>) {
		const name = uniqueDatabaseName('awe_runtime');
		await adminStatement(
			serverUrl!,
			template ? `create database "${name}" template "${template}"` : `create database "${name}"`
		);
		try {
			await use(databaseUrl(serverUrl!, name));
			await adminStatement(serverUrl!, `drop database "${name}"`);
		} finally {
			await adminStatement(serverUrl!, `drop database if exists "${name}" with (force)`);
		}
	}

	const env = (url: string, extra: Record<string, string> = {}) =>
		loadConfig({ DATABASE_URL: url, AWE_SECRET_KEY: secret, LOG_LEVEL: 'silent', ...extra });

	it('closes the database when the bus fails to open', async () => {
		await withDatabase(inject('postgresTemplate'), async (url) => {
			const config = env(url, { REDIS_URL: deadRedis });
			await expect(createRuntime(config, { roles: ['worker'] })).rejects.toThrow();
		});
	});

	it('a realtime process refuses an unmigrated database and closes it', async () => {
		await withDatabase(null, async (url) => {
			const config = env(url, { REDIS_URL: process.env.TEST_REDIS_URL ?? deadRedis });
			await expect(createRuntime(config, { roles: ['realtime'] })).rejects.toThrow(
				/not migrated yet|ECONNREFUSED/
			);
		});
	});

	it('a worker process has a worker and no realtime server, and closes everything', async () => {
		await withDatabase(inject('postgresTemplate'), async (url) => {
			const runtime = await createRuntime(env(url), { roles: ['worker'] });
			try {
				expect(runtime.worker).not.toBeNull();
				expect(runtime.realtime).toBeNull();
			} finally {
				await runtime.close();
			}
		});
	});
});
