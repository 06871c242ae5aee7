import type { ChildProcess } from 'node:child_process';
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/lib/server/db/index.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';
import { waitUntil } from '../helpers/deadline.ts';
import { startProcess } from '../helpers/processes.ts';

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
	const started = await startProcess(
		process.execPath,
		[
			'--experimental-strip-types',
			'--no-warnings=ExperimentalWarning',
			'tests/fault/probe-worker.ts'
		],
		{
			name: 'probe worker',
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
			ready: {
				what: "'worker ready' in its log",
				baseMs: 20_000,
				check: (output) => output.includes('worker ready')
			}
		}
	);
	return {
		child: started.child,
		pid: started.pid,
		output: started.output,
		kill: (signal) => started.child.kill(signal),
		exited: started.exited
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

/** Polls `probe` until `accept` holds; the deadline scales with the machine's load. */
export async function until<T>(
	probe: () => Promise<T>,
	accept: (value: T) => boolean,
	timeoutMs = 30_000
): Promise<T> {
	let last: T | undefined;
	const accepted = await waitUntil(
		async () => {
			last = await probe();
			return accept(last) ? { value: last } : null;
		},
		{
			what: 'the polled condition',
			baseMs: timeoutMs,
			context: () => `last value: ${JSON.stringify(last)}`
		}
	);
	return accepted.value;
}
