import { PGlite } from '@electric-sql/pglite';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from './database.ts';

async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
		});
	});
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
	const databaseEnv: Record<string, string> = {};
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
	if (process.env.TEST_REDIS_URL) databaseEnv.REDIS_URL = process.env.TEST_REDIS_URL;
	const child = spawn(process.execPath, args, {
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
		stdio: ['ignore', 'pipe', 'pipe']
	});
	let output = '';
	child.stdout.on('data', (chunk) => (output += chunk));
	child.stderr.on('data', (chunk) => (output += chunk));
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	const url = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + 60_000;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
		const ready = await fetch(`${url}/readyz`).then(
			(response) => response.ok,
			() => false
		);
		if (ready) break;
		if (Date.now() > deadline) throw new Error(`server did not become ready:\n${output}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	return {
		url,
		output: () => output,
		async stop() {
			child.kill('SIGTERM');
			await exited;
			await database?.drop().catch(() => {});
			await rm(dataDir, { recursive: true, force: true });
		}
	};
}

/** One server for the whole test file. */
export function useAppServer(env: Record<string, string> = {}): {
	readonly url: string;
	output(): string;
} {
	let server: AppServer | undefined;
	beforeAll(async () => {
		server = await startAppServer(env);
	}, 120_000);
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
