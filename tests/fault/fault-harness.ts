import { spawn, type ChildProcess } from 'node:child_process';
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/lib/server/db/index.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';

export interface WorkerProcess {
	child: ChildProcess;
	pid: number;
	output: () => string;
	kill(signal: NodeJS.Signals): void;
	exited: Promise<number | null>;
}

/** Starts `tests/fault/probe-worker.ts` on the test database and resolves once it is ready. */
export async function startWorkerProcess(
	databaseUrl: string,
	env: Record<string, string> = {}
): Promise<WorkerProcess> {
	const child = spawn(
		process.execPath,
		[
			'--experimental-strip-types',
			'--no-warnings=ExperimentalWarning',
			'tests/fault/probe-worker.ts'
		],
		{
			env: {
				PATH: process.env.PATH ?? '',
				DATABASE_URL: databaseUrl,
				AWE_SECRET_KEY: 'fault-test-secret-key-0123456789abcdef',
				LOG_LEVEL: 'info',
				WORKER_CONCURRENCY: '4',
				WORKER_LEASE_SECONDS: '2',
				SHUTDOWN_TIMEOUT: '2',
				...env
			},
			stdio: ['ignore', 'pipe', 'pipe']
		}
	);
	let output = '';
	child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
	const deadline = Date.now() + 20_000;
	while (!output.includes('worker ready')) {
		if (child.exitCode !== null || Date.now() > deadline) {
			throw new Error(`worker did not start:\n${output}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	return {
		child,
		pid: child.pid as number,
		output: () => output,
		kill: (signal) => child.kill(signal),
		exited
	};
}

export async function createProbeTable(database: Database): Promise<void> {
	await database.db.execute(sql`
		create table if not exists probe_executions (
			label text not null, idempotency_key text not null, attempt int not null, pid int not null,
			at timestamptz not null default clock_timestamp()
		)
	`);
}

export async function probeExecutions(database: Database, runId: string) {
	const result = await database.db.execute(sql`
		select label, idempotency_key, attempt, pid from probe_executions
		where idempotency_key like ${runId + ':%'} order by at
	`);
	return rows<{ label: string; idempotency_key: string; attempt: number; pid: number }>(result);
}

export async function until<T>(
	probe: () => Promise<T>,
	accept: (value: T) => boolean,
	timeoutMs = 30_000
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (accept(value)) return value;
		if (Date.now() > deadline)
			throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}
