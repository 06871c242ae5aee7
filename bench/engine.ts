// Engine benchmarks on real PostgreSQL, each beside a baseline measured in the same run:
//   1. per-step overhead of a 40-step chain of no-op steps (p50), against one bare INSERT+COMMIT
//      on one connection (a chain runs its steps one after another). Target: p50 ≤ 3× the commit.
//   2. single-step runs per second with 1 and 2 worker processes at concurrency N each, against
//      N-way (2N-way) concurrent bare INSERT+COMMITs through as many 10-connection pools as there
//      are workers (a worker's pool). Target: ≥ 3,000 runs/s.
//   3. dispatch latency, from before the enqueueing statement is sent to the step's start (p50).
//      Target: p50 ≤ 5 ms.
// Run: `npm run bench` (BENCH_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres),
// or alone: node --experimental-strip-types bench/engine.ts (writes bench/results/engine.json).
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../src/lib/server/db/index.ts';
import { migrateDatabase, rows } from '../src/lib/server/db/migrate.ts';
import { startRun } from '../src/lib/server/engine/run-control.ts';
import type { WorkflowDefinition } from '../src/lib/schemas/workflow.ts';
import { waitUntil } from '../tests/helpers/deadline.ts';
import { startProcess, type StartedProcess } from '../tests/helpers/processes.ts';
import { finish, report, result, round } from './report.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const throughputRuns = Number(process.env.BENCH_RUNS ?? 5000);
const chainRuns = Number(process.env.BENCH_CHAIN_RUNS ?? 20);
const dispatchSamples = Number(process.env.BENCH_DISPATCH_SAMPLES ?? 200);
const baselineCommits = Number(process.env.BENCH_BASELINE_COMMITS ?? 3000);
// No-op steps finish at once: many in flight make the group commits large.
const workerConcurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 256);
/** A worker's database pool (openDatabase's default): the concurrent baseline uses the same. */
const workerPoolConnections = 10;

const name = `awe_bench_${Date.now()}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database "${name}"`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const databaseUrl = url.toString();

const percentile = (values: number[], p: number) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let database: Database | undefined;
const workers: StartedProcess[] = [];

async function startWorkers(count: number): Promise<void> {
	const started = await Promise.all(
		Array.from({ length: count }, () =>
			startProcess(
				process.execPath,
				['--experimental-strip-types', '--no-warnings=ExperimentalWarning', 'src/worker.ts'],
				{
					name: 'worker',
					env: {
						PATH: process.env.PATH ?? '',
						DATABASE_URL: databaseUrl,
						AWE_SECRET_KEY: 'bench-secret-key-0123456789abcdefghij',
						LOG_LEVEL: 'info',
						WORKER_CONCURRENCY: String(workerConcurrency)
					},
					ready: {
						what: "'worker ready' in its log",
						baseMs: 60_000,
						check: (output) => output.includes('worker ready')
					}
				}
			)
		)
	);
	workers.push(...started);
}

async function stopWorkers(): Promise<void> {
	await Promise.all(workers.splice(0).map((worker) => worker.stop()));
}

/** Single-row INSERTs, each its own transaction, one after another on one connection. */
async function sequentialCommits(count: number) {
	const raw = postgres(databaseUrl, { max: 1, onnotice: () => {} });
	try {
		const times: number[] = [];
		const started = performance.now();
		for (let i = 0; i < count; i++) {
			const t = performance.now();
			await raw`insert into bench_baseline (value) values (${'row ' + i})`;
			times.push(performance.now() - t);
		}
		const seconds = (performance.now() - started) / 1000;
		return {
			commitP50Ms: round(percentile(times, 50)),
			commitP99Ms: round(percentile(times, 99)),
			commitsPerSecond: Math.round(count / seconds)
		};
	} finally {
		await raw.end();
	}
}

/**
 * `count` single-row INSERT+COMMITs from `concurrency` callers at once, spread over `pools` clients
 * of `workerPoolConnections` connections each: what `pools` workers at that concurrency could
 * commit if each step were one bare commit.
 */
async function concurrentCommits(count: number, concurrency: number, pools: number) {
	const clients = Array.from({ length: pools }, () =>
		postgres(databaseUrl, { max: workerPoolConnections, onnotice: () => {} })
	);
	try {
		// Open every connection before the clock starts.
		await Promise.all(
			clients.flatMap((client) =>
				Array.from({ length: workerPoolConnections }, () => client`select 1`)
			)
		);
		let next = 0;
		const started = performance.now();
		await Promise.all(
			Array.from({ length: concurrency }, async (_, caller) => {
				const client = clients[caller % pools] as postgres.Sql;
				while (next++ < count)
					await client`insert into bench_baseline (value) values ('concurrent')`;
			})
		);
		return Math.round(count / ((performance.now() - started) / 1000));
	} finally {
		await Promise.all(clients.map((client) => client.end()));
	}
}

try {
	database = await openDatabase({ url: databaseUrl, maxConnections: 16 });
	await migrateDatabase(database);
	const db = database.db;

	// Baseline: single-row INSERT + COMMIT, one after another.
	await db.execute(sql`create table bench_baseline (id serial primary key, value text not null)`);
	await sequentialCommits(200);
	const baseline = await sequentialCommits(baselineCommits);
	console.log('baseline', baseline);

	const [workspace] = rows<{ id: string }>(
		await db.execute(
			sql`insert into workspaces (name, slug) values ('Bench', ${name}) returning id`
		)
	);
	const workspaceId = workspace?.id as string;
	async function workflow(definition: WorkflowDefinition) {
		const [created] = rows<{ id: string }>(
			await db.execute(
				sql`insert into workflows (workspace_id, name) values (${workspaceId}, 'bench') returning id`
			)
		);
		const [version] = rows<{ id: string }>(
			await db.execute(sql`
				insert into workflow_versions (workflow_id, workspace_id, number, definition)
				values (${created?.id}, ${workspaceId}, 1, ${JSON.stringify(definition)}::jsonb) returning id
			`)
		);
		return { workflowId: created?.id as string, versionId: version?.id as string, definition };
	}
	const start = (target: Awaited<ReturnType<typeof workflow>>) =>
		startRun(db, { ...target, workspaceId, input: {}, trigger: 'api', createdBy: null });
	async function waitForAll(runIds: string[]) {
		const ids = sql.raw(`array[${runIds.map((id) => `'${id}'`).join(',')}]::uuid[]`);
		let unfinished = runIds.length;
		await waitUntil(
			async () => {
				const [row] = rows<{ n: number }>(
					await db.execute(sql`
						select count(*)::int as n from runs where id = any(${ids})
							and status not in ('succeeded', 'failed', 'cancelled')
					`)
				);
				unfinished = row?.n ?? 0;
				return unfinished === 0;
			},
			{
				what: `${runIds.length} runs to finish`,
				baseMs: 300_000,
				intervalMs: 20,
				context: () => `${unfinished} still unfinished`
			}
		);
	}

	const single = await workflow({
		inputs: [],
		edges: [],
		nodes: [{ id: 'start', kind: 'input', config: {} }]
	});
	const chainNodes = Array.from({ length: 40 }, (_, i) => ({
		id: i === 0 ? 'start' : `s${i}`,
		kind: i === 0 ? 'input' : 'parallel',
		config: {}
	}));
	const chain = await workflow({
		inputs: [],
		nodes: chainNodes,
		edges: chainNodes
			.slice(1)
			.map((node, i) => ({ from: chainNodes[i]?.id as string, to: node.id }))
	});

	// 3. Dispatch latency: an idle worker, runs enqueued one at a time. The clock is read before
	// the enqueueing transaction is sent, from the database that stamps started_at (one clock).
	await startWorkers(1);
	const enqueuedAt = new Map<string, number>();
	/** How long the enqueueing transaction itself took, seen from here: part of the latency. */
	const enqueueTimes: number[] = [];
	for (let i = 0; i < dispatchSamples; i++) {
		const [clock] = rows<{ ms: number }>(
			await db.execute(sql`select extract(epoch from clock_timestamp()) * 1000 as ms`)
		);
		const sending = performance.now();
		const { runId } = await start(single);
		enqueueTimes.push(performance.now() - sending);
		enqueuedAt.set(runId, Number(clock?.ms));
		await sleep(15);
	}
	const dispatchIds = [...enqueuedAt.keys()];
	await waitForAll(dispatchIds);
	const dispatch = rows<{ run_id: string; started: number }>(
		await db.execute(sql`
			select s.run_id, extract(epoch from s.started_at) * 1000 as started
			from run_steps s
			where s.run_id = any(${sql.raw(`array[${dispatchIds.map((id) => `'${id}'`).join(',')}]::uuid[]`)})
		`)
	).map((row) => Number(row.started) - (enqueuedAt.get(row.run_id) ?? NaN));

	// 1. Per-step overhead: 40-step chains of no-op steps, one run at a time.
	const chainIds: string[] = [];
	for (let i = 0; i < chainRuns; i++) {
		const { runId } = await start(chain);
		chainIds.push(runId);
		await waitForAll([runId]);
	}
	const stepGaps = rows<{ ms: number | null }>(
		await db.execute(sql`
			select extract(epoch from (finished_at - lag(finished_at) over (partition by run_id order by finished_at))) * 1000 as ms
			from run_steps where run_id = any(${sql.raw(`array[${chainIds.map((id) => `'${id}'`).join(',')}]::uuid[]`)})
		`)
	)
		.map((row) => row.ms)
		.filter((ms): ms is number => ms !== null)
		.map(Number);
	await stopWorkers();

	// 2. Throughput: runs enqueued first, then executed by 1 or 2 worker processes; beside each,
	// as many bare commits from as many concurrent callers through as many pools, just before.
	const throughput: Record<number, { runsPerSecond: number; bareCommitsPerSecond: number }> = {};
	for (const count of [1, 2]) {
		const ids: string[] = [];
		for (let i = 0; i < throughputRuns; i += 50) {
			const batch = await Promise.all(
				Array.from({ length: Math.min(50, throughputRuns - i) }, () => start(single))
			);
			ids.push(...batch.map((started) => started.runId));
		}
		const bareCommitsPerSecond = await concurrentCommits(
			throughputRuns,
			workerConcurrency * count,
			count
		);
		await startWorkers(count);
		await waitForAll(ids);
		const [span] = rows<{ seconds: number }>(
			await db.execute(sql`
				select extract(epoch from (max(r.finished_at) - min(s.started_at))) as seconds
				from runs r join run_steps s on s.run_id = r.id
				where r.id = any(${sql.raw(`array[${ids.map((id) => `'${id}'`).join(',')}]::uuid[]`)})
			`)
		);
		throughput[count] = {
			runsPerSecond: Math.round(throughputRuns / Number(span?.seconds)),
			bareCommitsPerSecond
		};
		console.log(`${count} worker(s):`, throughput[count]);
		await stopWorkers();
	}

	const oneCommit = {
		value: baseline.commitP50Ms,
		is: 'one bare INSERT+COMMIT on one connection, p50'
	};
	const runsPerSecond = (count: number) => {
		const measured = throughput[count] ?? { runsPerSecond: NaN, bareCommitsPerSecond: NaN };
		const callers = workerConcurrency * count;
		return result({
			metric: `single-step runs/s, ${count} worker${count > 1 ? 's' : ''} at concurrency ${workerConcurrency}`,
			value: measured.runsPerSecond,
			unit: '/s',
			baseline: {
				value: measured.bareCommitsPerSecond,
				is: `${callers} concurrent bare INSERT+COMMITs through ${count} pool(s) of ${workerPoolConnections} connections`
			},
			target: { of: 'value', op: '>=', value: 3000 }
		});
	};
	await finish(
		report(
			'engine',
			[
				result({
					metric: 'per-step overhead p50, 40-step chain of no-op steps',
					value: percentile(stepGaps, 50),
					unit: 'ms',
					baseline: oneCommit,
					target: { of: 'ratio', op: '<=', value: 3 }
				}),
				runsPerSecond(1),
				runsPerSecond(2),
				result({
					metric: 'dispatch latency p50, enqueue to step start',
					value: percentile(dispatch, 50),
					unit: 'ms',
					baseline: oneCommit,
					target: { of: 'value', op: '<=', value: 5 }
				})
			],
			{
				baseline,
				perStepOverhead: {
					steps: stepGaps.length,
					p50Ms: round(percentile(stepGaps, 50)),
					p99Ms: round(percentile(stepGaps, 99)),
					measured: 'between consecutive steps finishing in one run, one run at a time'
				},
				singleStepRuns: {
					runs: throughputRuns,
					workerConcurrency,
					byWorkers: throughput,
					measured:
						'first step start to last run finish, runs enqueued beforehand; the bare commits just before, in this process'
				},
				dispatchLatency: {
					samples: dispatch.length,
					p50Ms: round(percentile(dispatch, 50)),
					p99Ms: round(percentile(dispatch, 99)),
					enqueueTransactionP50Ms: round(percentile(enqueueTimes, 50)),
					measured:
						"database clock read before the enqueueing transaction is sent, to the step's started_at (the same clock)"
				}
			}
		)
	);
} finally {
	await stopWorkers();
	await database?.close();
	await admin.unsafe(`drop database if exists "${name}" with (force)`);
	await admin.end();
}
