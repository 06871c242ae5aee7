import { PGlite } from '@electric-sql/pglite';
import type { RequestEvent } from '@sveltejs/kit';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/lib/server/db/index.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { createInProcessBus } from '../../src/lib/server/bus/bus.ts';
import { checkReadiness, type Runtime } from '../../src/lib/server/runtime.ts';
import { GET } from '../../src/routes/readyz/+server.ts';
import { useTestDatabase } from '../helpers/database.ts';

const testDb = useTestDatabase();
const openBus = () => createInProcessBus(() => {});

async function callReadyz(runtime: Pick<Runtime, 'database' | 'bus'>) {
	const logger = createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' });
	const event = { locals: { runtime: { ...runtime, logger } } } as unknown as RequestEvent;
	return GET(event as Parameters<typeof GET>[0]);
}

describe('readiness', () => {
	it('is ready with a reachable, migrated database and bus', async () => {
		const response = await callReadyz({ database: testDb.database, bus: openBus() });
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({
			status: 'ready',
			checks: { database: 'ok', bus: 'ok' }
		});
	});

	it('answers 503 when PostgreSQL cannot be reached, without leaking why', async () => {
		const unreachable = await openDatabase({
			url: 'postgres://awe@127.0.0.1:1/awe',
			connectTimeoutSeconds: 1
		});
		try {
			const response = await callReadyz({ database: unreachable, bus: openBus() });
			expect(response.status).toBe(503);
			const body = await response.json();
			expect(body).toEqual({ status: 'not ready', checks: { database: 'failing', bus: 'ok' } });
		} finally {
			await unreachable.close();
		}
	});

	it('is not ready when the embedded database has been closed', async () => {
		const closed = await openDatabase({ pglite: await PGlite.create() });
		await closed.close();
		const readiness = await checkReadiness({ database: closed, bus: openBus() });
		expect(readiness.ready).toBe(false);
		expect(readiness.checks.database?.ok).toBe(false);
	});

	it('is not ready while migrations are pending', async () => {
		const unmigrated = await openDatabase({ pglite: await PGlite.create() });
		try {
			const readiness = await checkReadiness({ database: unmigrated, bus: openBus() });
			expect(readiness.ready).toBe(false);
			expect(readiness.checks.database?.detail).toMatch(/migrations pending \(0 of \d+ applied\)/);
		} finally {
			await unmigrated.close();
		}
	});

	it('is not ready when the bus is down', async () => {
		const bus = openBus();
		await bus.close();
		const response = await callReadyz({ database: testDb.database, bus });
		expect(response.status).toBe(503);
		expect(await response.json()).toMatchObject({ checks: { database: 'ok', bus: 'failing' } });
	});
});
