import { PGlite } from '@electric-sql/pglite';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { longestScaled } from './deadline.ts';
import { freePort, startProcess } from './processes.ts';

/** How long a server may take to answer /readyz on a quiet machine (scaled by the machine's load). */
const readyBaseMs = 60_000;

/**
 * The test Redis, in a logical database picked for this server: rate-limit counts (kept per client
 * address, and every test client is 127.0.0.1) stay apart between the files running at once, while
 * pub/sub, which ignores the database number, still joins servers that share a PostgreSQL database.
 */
function redisUrlForServer(url: string): string {
	const chosen = new URL(url);
	if (chosen.pathname === '' || chosen.pathname === '/') {
		chosen.pathname = `/${1 + Math.floor(Math.random() * 15)}`;
	}
	return chosen.toString();
}

export interface AppServer {
	url: string;
	/** The server's stdout and stderr so far (JSON log lines). */
	output(): string;
	stop(): Promise<void>;
}

/**
 * Starts the built server (`node server.js`, as production does) on a fresh database: a PostgreSQL
 * database cloned from the run's template when TEST_DATABASE_URL is set, else a PGlite data directory
 * unpacked from the template dump; Redis too when TEST_REDIS_URL is set. With DATABASE_URL in `env`,
 * that database instead (several servers on one database).
 */
export async function startAppServer(
	env: Record<string, string> = {},
	/** Another entry point, e.g. the realtime sidecar; it gets the port as REALTIME_PORT too. */
	args = ['server.js']
): Promise<AppServer> {
	const port = await freePort();
	const dataDir = await mkdtemp(path.join(tmpdir(), 'awe-app-'));
	let database: TestDatabase | null = null;
	const removeFiles = async () => {
		await database?.drop().catch(() => {});
		await rm(dataDir, { recursive: true, force: true });
	};
	const databaseEnv: Record<string, string> = {};
	try {
		if (env.DATABASE_URL) {
			// A database the caller shares between several servers (and drops itself).
		} else if (process.env.TEST_DATABASE_URL) {
			database = await createTestDatabase();
			await database.database.close();
			databaseEnv.DATABASE_URL = database.url ?? '';
			databaseEnv.AWE_SECRET_KEY = 'http-test-secret-key-0123456789abcdef';
		} else {
			const template = inject('pgliteTemplateFile');
			if (!template) throw new Error('no PGlite template');
			const pglite = await PGlite.create(path.join(dataDir, 'pg'), {
				loadDataDir: new Blob([await readFile(template)])
			});
			await pglite.close();
		}
	} catch (error) {
		await removeFiles();
		throw error;
	}
	if (process.env.TEST_REDIS_URL)
		databaseEnv.REDIS_URL = redisUrlForServer(process.env.TEST_REDIS_URL);
	const url = `http://127.0.0.1:${port}`;
	const server = await startProcess(process.execPath, args, {
		name: `${args.at(-1)} on port ${port}`,
		env: {
			PATH: process.env.PATH ?? '',
			PORT: String(port),
			REALTIME_PORT: String(port),
			HOST: '127.0.0.1',
			DATA_DIR: dataDir,
			BCRYPT_COST: '10',
			LOG_LEVEL: 'warn',
			...databaseEnv,
			...env
		},
		ready: {
			what: 'GET /readyz to answer 200',
			baseMs: readyBaseMs,
			intervalMs: 200,
			check: () =>
				fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) }).then(
					(response) => response.ok,
					() => false
				)
		},
		cleanup: removeFiles
	});
	return { url, output: server.output, stop: () => server.stop() };
}

/**
 * A hook timeout for starting `servers` app servers one after another: it outlasts their readiness
 * waits, so that a wait's own error (with the server's output) is the one reported.
 */
export function appServerStartTimeout(servers = 1): number {
	return servers * (longestScaled(readyBaseMs) + 30_000);
}

/** One server for the whole test file. */
export function useAppServer(env: Record<string, string> = {}): {
	readonly url: string;
	output(): string;
} {
	let server: AppServer | undefined;
	beforeAll(async () => {
		server = await startAppServer(env);
	}, appServerStartTimeout());
	afterAll(async () => {
		await server?.stop();
	});
	return {
		get url() {
			if (!server) throw new Error('the app server is only available inside tests');
			return server.url;
		},
		output: () => server?.output() ?? ''
	};
}
