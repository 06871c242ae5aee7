import { loadConfig, type Config } from './platform/config.ts';
import { openDatabase, type Database } from './db/index.ts';
import { migrateDatabase } from './db/migrate.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import type { EventBus } from './realtime/bus.ts';
import { openEventBus } from './realtime/open-bus.ts';
import type { KindRegistry } from './engine/definition.ts';
import { builtInKinds, createKindRegistry } from './engine/kinds/index.ts';
import type { AnyNodeKind } from './engine/kinds/types.ts';
import { Worker } from './engine/worker.ts';
import { fireDueSchedules } from './services/schedules.ts';
import { createCredentialKeyring } from './credentials/keyring.ts';
import { createTooling } from './tools/tooling.ts';

/** Workers share the web processes' secret (required with DATABASE_URL) to open credentials. */
function secretKeyOf(config: Config): string {
	if (!config.AWE_SECRET_KEY)
		throw new Error('A worker needs AWE_SECRET_KEY, the same as the web process.');
	return config.AWE_SECRET_KEY;
}

/** A worker as configured: it also fires due schedules on each maintenance tick. */
export function createWorker(
	config: Config,
	parts: { database: Database; bus: EventBus; logger: Logger; kinds: KindRegistry }
): Worker {
	const scheduling = { db: parts.database.db, bus: parts.bus, logger: parts.logger };
	return new Worker({
		...parts,
		concurrency: config.WORKER_CONCURRENCY,
		leaseMs: config.WORKER_LEASE_SECONDS * 1000,
		onPoll: async () => {
			await fireDueSchedules(scheduling, new Date());
		}
	});
}

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
		bus = await openEventBus(config.REDIS_URL, logger);
	} catch (error) {
		await database.close();
		throw error;
	}
	const tooling = createTooling({
		db: database.db,
		keyring: createCredentialKeyring(secretKeyOf(config)),
		allow: config.AWE_HTTP_ALLOW,
		codeRunners: config.CODE_RUNNERS
	});
	const worker = createWorker(config, {
		database,
		bus,
		logger,
		kinds: createKindRegistry([...builtInKinds, ...tooling.kinds, ...extraKinds])
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
		await tooling.close();
		await openBus.close();
		await database.close();
		logger.info('worker stopped');
		process.exit(0);
	};
	process.on('SIGTERM', () => void stop('SIGTERM'));
	process.on('SIGINT', () => void stop('SIGINT'));
}
