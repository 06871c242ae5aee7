import { createMemoryRateLimiter, createRedisRateLimiter } from './auth/rate-limit.ts';
import type { EventBus } from './bus/bus.ts';
import { openEventBus } from './bus/open-bus.ts';
import { createCredentialKeyring } from './credentials/keyring.ts';
import { openDatabase, pingDatabase, type Database } from './db/index.ts';
import { migrateDatabase, migrationStatus } from './db/migrate.ts';
import { builtInKinds, createKindRegistry } from './engine/kinds/index.ts';
import type { AnyNodeKind } from './engine/kinds/types.ts';
import { Worker } from './engine/worker.ts';
import { isEmbedded, type Config } from './platform/config.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { resolveSecretKey } from './platform/secret-key.ts';
import { createRealtimeServer, type RealtimeServer } from './realtime/server.ts';
import { createServiceContext, type ServiceContext } from './services/context.ts';
import { agentKinds } from './services/agent-runtime.ts';
import { credentialLookup } from './services/credentials.ts';
import { fireDueSchedules } from './services/schedules.ts';
import { createTooling } from './tools/tooling.ts';

/**
 * What a process does. `web` serves pages and the API; `worker` executes runs from the queue and
 * fires due schedules; `realtime` serves `/ws`. A web process usually plays all three.
 */
export type Role = 'web' | 'worker' | 'realtime';

/** Everything a process holds for its lifetime: built once at start-up, closed once at shutdown. */
export interface Runtime {
	readonly config: Config;
	readonly roles: ReadonlySet<Role>;
	readonly logger: Logger;
	readonly database: Database;
	readonly bus: EventBus;
	/** What services are called with (plus the acting principal). */
	readonly services: ServiceContext;
	/** Executes runs in this process: with the `worker` role. */
	readonly worker: Worker | null;
	/** The `/ws` WebSocket server, with the `realtime` role. */
	readonly realtime: RealtimeServer | null;
	/** Closes what was opened, in reverse order; safe to call more than once. */
	close(): Promise<void>;
}

export interface RuntimeOptions {
	roles: readonly Role[];
	logger?: Logger;
	/** Node kinds beyond the built-in ones (tests register probes). */
	extraKinds?: readonly AnyNodeKind[];
}

/** The roles of the web process: it serves `/ws` itself, and executes runs when so configured. */
export function webRoles(config: Config): Role[] {
	return (config.IN_PROCESS_WORKER ?? isEmbedded(config))
		? ['web', 'worker', 'realtime']
		: ['web', 'realtime'];
}

/**
 * The composition root: builds every collaborator of a process once, in dependency order, for the
 * roles it plays. If a step fails, what was already opened is closed (in reverse) before the error
 * is rethrown, so a failed start leaves no connection, lock or child process behind.
 */
export async function createRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
	const roles = new Set(options.roles);
	checkRoles(config, roles);
	const logger = options.logger ?? createLogger(config);
	const closers = new Closers(logger);
	try {
		const secretKey = await resolveSecretKey(config);
		const database = await openDatabase(
			config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }
		);
		closers.add('database', () => database.close());
		if (roles.has('web') || roles.has('worker')) await migrateDatabase(database);
		else await requireMigrated(database);

		const bus = await openEventBus(config.REDIS_URL, logger);
		closers.add('bus', () => bus.close());

		// Rate limits are shared by every web process through Redis when there is one.
		let limiter = createMemoryRateLimiter();
		if (config.REDIS_URL && roles.has('web')) {
			const shared = await createRedisRateLimiter(config.REDIS_URL, (error) =>
				logger.error({ err: error }, 'rate limiter redis error')
			);
			closers.add('rate limiter', () => shared.close());
			limiter = shared;
		}

		const keyring = createCredentialKeyring(secretKey);
		const now = () => new Date();
		const lookupCredential = credentialLookup({
			db: database.db,
			keys: { credentials: keyring },
			now
		});
		const tooling = createTooling({
			lookupCredential,
			allow: config.AWE_HTTP_ALLOW,
			codeRunners: config.CODE_RUNNERS
		});
		closers.add('tooling', () => tooling.close());
		const kinds = createKindRegistry([
			...builtInKinds,
			...tooling.kinds,
			...agentKinds({
				db: database.db,
				logger,
				tools: { registry: tooling.tools, sandbox: tooling.sandbox, http: tooling.http },
				lookupCredential,
				http: tooling.http
			}),
			...(options.extraKinds ?? [])
		]);
		const services = createServiceContext({
			db: database.db,
			secretKey,
			keyring,
			bcryptCost: config.BCRYPT_COST,
			limiter,
			now,
			logger,
			kinds,
			bus,
			tooling
		});

		let worker: Worker | null = null;
		if (roles.has('worker')) {
			const scheduling = { db: database.db, bus, logger };
			const started = new Worker({
				database,
				bus,
				logger,
				kinds,
				concurrency: config.WORKER_CONCURRENCY,
				leaseMs: config.WORKER_LEASE_SECONDS * 1000,
				onPoll: async () => {
					await fireDueSchedules(scheduling, new Date());
				}
			});
			closers.add('worker', () => started.stop(config.SHUTDOWN_TIMEOUT * 1000));
			await started.start();
			worker = started;
		}

		let realtime: RealtimeServer | null = null;
		if (roles.has('realtime')) {
			const server = createRealtimeServer({
				services,
				origin: config.ORIGIN,
				// adapter-node's proxy settings, read from the same variables.
				protocolHeader: process.env.PROTOCOL_HEADER || undefined,
				hostHeader: process.env.HOST_HEADER || undefined
			});
			closers.add('realtime', () => server.close());
			realtime = server;
		}

		logger.info(
			{ roles: [...roles], database: database.driver, bus: bus.kind, embedded: isEmbedded(config) },
			'runtime started'
		);
		return {
			config,
			roles,
			logger,
			database,
			bus,
			services,
			worker,
			realtime,
			close: () => closers.closeAll()
		};
	} catch (error) {
		await closers.closeAll();
		throw error;
	}
}

/** Only a web process may own the embedded database; the others share PostgreSQL (and Redis). */
function checkRoles(config: Config, roles: ReadonlySet<Role>): void {
	if (roles.size === 0) throw new Error('A process needs at least one role.');
	if (roles.has('web')) return;
	const missing = [
		!config.DATABASE_URL && 'DATABASE_URL',
		roles.has('realtime') && !config.REDIS_URL && 'REDIS_URL',
		!config.AWE_SECRET_KEY && 'AWE_SECRET_KEY'
	].filter((name) => name !== false);
	if (missing.length > 0) {
		throw new Error(
			`A separate ${[...roles].join(' and ')} process needs ${missing.join(', ')} (the same as the web processes); in embedded mode the web process does this itself.`
		);
	}
}

/** A process that does not migrate (the realtime sidecar) waits for one that does. */
async function requireMigrated(database: Database): Promise<void> {
	const status = await migrationStatus(database);
	if (!status.upToDate)
		throw new Error('The database is not migrated yet: start a web process first.');
}

/** What `createRuntime` opened, closed in reverse order; one failure does not stop the rest. */
class Closers {
	readonly #logger: Logger;
	readonly #steps: { name: string; close: () => Promise<void> }[] = [];
	#closing: Promise<void> | undefined;

	constructor(logger: Logger) {
		this.#logger = logger;
	}

	add(name: string, close: () => Promise<void>): void {
		this.#steps.push({ name, close });
	}

	closeAll(): Promise<void> {
		this.#closing ??= (async () => {
			for (const step of this.#steps.reverse()) {
				try {
					await step.close();
				} catch (error) {
					this.#logger.error({ err: error, part: step.name }, 'closing failed');
				}
			}
			this.#logger.info('runtime closed');
		})();
		return this.#closing;
	}
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
