import { Redis } from 'ioredis';
import { createMemoryRateLimiter, createRedisRateLimiter } from './auth/rate-limit.ts';
import { openDatabase, pingDatabase, type Database } from './db/index.ts';
import { migrateDatabase, migrationStatus } from './db/migrate.ts';
import { isEmbedded, type Config } from './platform/config.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { deriveKey } from './platform/crypto.ts';
import { createCredentialKeyring } from './credentials/keyring.ts';
import { resolveSecretKey } from './platform/secret-key.ts';
import { createTooling } from './tools/tooling.ts';
import type { AnyNodeKind } from './engine/kinds/types.ts';
import type { EventBus } from './realtime/bus.ts';
import { openEventBus } from './realtime/open-bus.ts';
import { createRealtimeServer, type RealtimeServer } from './realtime/server.ts';
import type { ServiceContext } from './services/context.ts';
import { builtInKinds, createKindRegistry } from './engine/kinds/index.ts';
import type { Worker } from './engine/worker.ts';
import { createWorker } from './worker-process.ts';

/** Everything a process holds for its lifetime: built once at start-up, closed once at shutdown. */
export interface Runtime {
	readonly config: Config;
	readonly logger: Logger;
	readonly database: Database;
	readonly bus: EventBus;
	readonly secretKey: string;
	/** What services are called with (plus the acting principal). */
	readonly services: ServiceContext;
	/** Executes runs in this process: always in embedded mode, else when IN_PROCESS_WORKER is set. */
	readonly worker: Worker | null;
	/** The `/ws` WebSocket server, for whichever HTTP server this process runs (server.js, vite dev). */
	readonly realtime: RealtimeServer;
	close(): Promise<void>;
}

export async function startRuntime(
	config: Config,
	logger = createLogger(config),
	extraKinds: AnyNodeKind[] = []
): Promise<Runtime> {
	const secretKey = await resolveSecretKey(config);
	const database = await openDatabase(
		config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }
	);
	let bus: EventBus | undefined;
	let redis: Redis | undefined;
	try {
		await migrateDatabase(database);
		bus = await openEventBus(config.REDIS_URL, logger);
		if (config.REDIS_URL) {
			redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 5_000 });
			redis.on('error', (error: unknown) => logger.error({ err: error }, 'redis error'));
		}
	} catch (error) {
		await bus?.close();
		await database.close();
		throw error;
	}
	logger.info(
		{ database: database.driver, bus: bus.kind, embedded: isEmbedded(config) },
		'runtime started'
	);
	const openBus = bus;
	const keyring = createCredentialKeyring(secretKey);
	const tooling = createTooling({
		db: database.db,
		keyring,
		allow: config.AWE_HTTP_ALLOW,
		codeRunners: config.CODE_RUNNERS
	});
	const kinds = createKindRegistry([...builtInKinds, ...tooling.kinds, ...extraKinds]);
	const services: ServiceContext = {
		db: database.db,
		keys: {
			pepper: deriveKey(secretKey, 'password-pepper'),
			totp: deriveKey(secretKey, 'totp-key-encryption'),
			triggers: deriveKey(secretKey, 'trigger-secret-encryption'),
			realtime: deriveKey(secretKey, 'realtime-ticket'),
			credentials: keyring
		},
		bcryptCost: config.BCRYPT_COST,
		limiter: redis ? createRedisRateLimiter(redis) : createMemoryRateLimiter(),
		now: () => new Date(),
		logger,
		kinds,
		bus: openBus,
		tools: { registry: tooling.tools, sandbox: tooling.sandbox }
	};
	const worker =
		(config.IN_PROCESS_WORKER ?? isEmbedded(config))
			? createWorker(config, { database, bus: openBus, logger, kinds })
			: null;
	await worker?.start();
	const realtime = createRealtimeServer({
		services,
		origin: config.ORIGIN,
		// adapter-node's proxy settings, read from the same variables.
		protocolHeader: process.env.PROTOCOL_HEADER || undefined,
		hostHeader: process.env.HOST_HEADER || undefined
	});
	let closing: Promise<void> | undefined;
	return {
		config,
		logger,
		database,
		bus: openBus,
		secretKey,
		services,
		worker,
		realtime,
		close() {
			closing ??= (async () => {
				await realtime.close();
				await worker?.stop(config.SHUTDOWN_TIMEOUT * 1000);
				await tooling.close();
				await openBus.close();
				await redis?.quit().catch(() => {});
				await database.close();
				logger.info('runtime closed');
			})();
			return closing;
		}
	};
}

export interface Readiness {
	ready: boolean;
	checks: Record<string, { ok: boolean; detail?: string }>;
}

const readinessTimeoutMs = 2_000;

/** Whether this process can serve traffic: database reachable and migrated, bus reachable. */
export async function checkReadiness(
	runtime: Pick<Runtime, 'database' | 'bus'>
): Promise<Readiness> {
	const [database, bus] = await Promise.all([
		probe(async () => {
			await pingDatabase(runtime.database);
			const status = await migrationStatus(runtime.database);
			if (!status.upToDate) {
				throw new Error(`migrations pending (${status.applied} of ${status.expected} applied)`);
			}
		}),
		probe(() => runtime.bus.ping())
	]);
	return { ready: database.ok && bus.ok, checks: { database, bus } };
}

async function probe(check: () => Promise<void>): Promise<{ ok: boolean; detail?: string }> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error('timed out')), readinessTimeoutMs);
	});
	try {
		await Promise.race([check(), timeout]);
		return { ok: true };
	} catch (error) {
		return { ok: false, detail: error instanceof Error ? error.message : String(error) };
	} finally {
		clearTimeout(timer);
	}
}
