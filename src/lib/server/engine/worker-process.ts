import { openDatabase } from '../db/index.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import { createInProcessBus, type EventBus } from '../realtime/bus.ts';
import { createRedisBus } from '../realtime/redis-bus.ts';
import { builtInKinds, createKindRegistry } from './kinds/index.ts';
import type { AnyNodeKind } from './kinds/types.ts';
import { Worker } from './worker.ts';
import { fireDueSchedules } from '../services/schedules.ts';

/**
 * A worker process: executes runs from the shared PostgreSQL queue until SIGTERM/SIGINT, then
 * finishes in-flight steps (up to SHUTDOWN_TIMEOUT) and exits. Embedded mode has no worker
 * processes: the PGlite database belongs to the web process, which runs its own worker.
 */
export async function runWorkerProcess(extraKinds: AnyNodeKind[] = []): Promise<void> {
	const config = loadConfig();
	const logger = createLogger(config).child({ process: 'worker' });
	if (!config.DATABASE_URL) {
		throw new Error(
			'A separate worker needs DATABASE_URL (PostgreSQL); in embedded mode the web process runs the worker.'
		);
	}
	const database = await openDatabase({ url: config.DATABASE_URL });
	let bus: EventBus | undefined;
	try {
		await migrateDatabase(database);
		const reportBusError = (error: unknown, channel: string) =>
			logger.error({ err: error, channel }, 'event bus handler failed');
		bus = config.REDIS_URL
			? await createRedisBus(config.REDIS_URL, reportBusError)
			: createInProcessBus(reportBusError);
	} catch (error) {
		await database.close();
		throw error;
	}
	const scheduling = { db: database.db, bus, logger };
	const worker = new Worker({
		database,
		bus,
		kinds: createKindRegistry([...builtInKinds, ...extraKinds]),
		logger,
		concurrency: config.WORKER_CONCURRENCY,
		leaseMs: config.WORKER_LEASE_SECONDS * 1000,
		onPoll: async () => {
			await fireDueSchedules(scheduling, new Date());
		}
	});
	await worker.start();
	logger.info({ workerId: worker.id, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');
	const openBus = bus;
	let stopping = false;
	const stop = async (signal: string) => {
		if (stopping) return;
		stopping = true;
		logger.info({ signal }, 'worker stopping');
		await worker.stop(config.SHUTDOWN_TIMEOUT * 1000);
		await openBus.close();
		await database.close();
		logger.info('worker stopped');
		process.exit(0);
	};
	process.on('SIGTERM', () => void stop('SIGTERM'));
	process.on('SIGINT', () => void stop('SIGINT'));
}
