// Engine benchmarks on real PostgreSQL, each beside a baseline measured in the same run: a loop of
// single-row INSERT + COMMIT through postgres.js on the same database.
//   1. per-step overhead of a 40-step chain of no-op steps (p50, p99)
//   2. single-step runs per second with 1 and 2 worker processes
//   3. dispatch latency from enqueue to step start (p50, p99)
// Run: `npm run bench` (BENCH_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres).
// Results are printed and written to bench/results/engine.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../src/lib/server/db/index.ts';
import { migrateDatabase, rows } from '../src/lib/server/db/migrate.ts';
import { startRun } from '../src/lib/server/engine/run-control.ts';
import type { WorkflowDefinition } from '../src/lib/schemas/workflow.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const throughputRuns = Number(process.env.BENCH_RUNS ?? 5000);
const chainRuns = Number(process.env.BENCH_CHAIN_RUNS ?? 20);
const dispatchSamples = Number(process.env.BENCH_DISPATCH_SAMPLES ?? 200);
const baselineCommits = Number(process.env.BENCH_BASELINE_COMMITS ?? 3000);
// No-op steps finish at once: many in flight make the group commits large.
const workerConcurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 256);

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
const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let database: Database | undefined;
const workers: ChildProcess[] = [];

async function startWorkers(count: number): Promise<void> {
	const ready: Promise<void>[] = [];
	for (let i = 0; i < count; i++) {
		const child = spawn(
			process.execPath,
			['--experimental-strip-types', '--no-warnings=ExperimentalWarning', 'src/worker.ts'],
			{
				env: {
					PATH: process.env.PATH ?? '',
					DATABASE_URL: databaseUrl,
					AWE_SECRET_KEY: 'bench-secret-key-0123456789abcdefghij',
					LOG_LEVEL: 'info',
					WORKER_CONCURRENCY: String(workerConcurrency)
				},
				stdio: ['ignore', 'pipe', 'inherit']
			}
		);
		workers.push(child);
		ready.push(
			new Promise((resolve, reject) => {
				let output = '';
				child.stdout?.on('data', (chunk: Buffer) => {
					output += chunk.toString();
					if (output.includes('worker ready')) resolve();
				});
				child.on('exit', () => reject(new Error(`worker exited:\n${output}`)));
			})
		);
	}
	await Promise.all(ready);
}

async function stopWorkers(): Promise<void> {
	await Promise.all(
		workers.splice(0).map(
			(child) =>
				new Promise<void>((resolve) => {
					child.on('exit', () => resolve());
					child.kill('SIGTERM');
				})
		)
	);
}

try {
	database = await openDatabase({ url: databaseUrl, maxConnections: 16 });
	await migrateDatabase(database);
	const db = database.db;

	// Baseline: single-row INSERT + COMMIT, one after another.
	const raw = postgres(databaseUrl, { max: 1, onnotice: () => {} });
	await raw`create table bench_baseline (id serial primary key, value text not null)`;
	for (let i = 0; i < 200; i++) await raw`insert into bench_baseline (value) values ('warm')`;
	const commitTimes: number[] = [];
	const baselineStart = performance.now();
	for (let i = 0; i < baselineCommits; i++) {
		const t = performance.now();
		await raw`insert into bench_baseline (value) values (${'row ' + i})`;
		commitTimes.push(performance.now() - t);
	}
	const baselineSeconds = (performance.now() - baselineStart) / 1000;
	await raw.end();
	const baseline = {
		commitP50Ms: round(percentile(commitTimes, 50)),
		commitP99Ms: round(percentile(commitTimes, 99)),
		commitsPerSecond: Math.round(baselineCommits / baselineSeconds)
	};
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
	async function waitForAll(runIds: string[], timeoutMs = 300_000) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const [row] = rows<{ n: number }>(
				await db.execute(sql`
					select count(*)::int as n from runs where id = any(${sql.raw(`array[${runIds.map((id) => `'${id}'`).join(',')}]::uuid[]`)})
						and status not in ('succeeded', 'failed', 'cancelled')
				`)
			);
			if ((row?.n ?? 0) === 0) return;
			if (Date.now() > deadline) throw new Error(`${row?.n} runs unfinished`);
			await sleep(20);
		}
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

	// 3. Dispatch latency: an idle worker, runs enqueued one at a time.
	await startWorkers(1);
	const enqueuedAt = new Map<string, number>();
	for (let i = 0; i < dispatchSamples; i++) {
		const { runId } = await start(single);
		// The moment the enqueueing commit is acknowledged, on the same clock the database uses.
		enqueuedAt.set(runId, performance.timeOrigin + performance.now());
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

	// 2. Throughput: runs enqueued first, then executed by 1 or 2 worker processes.
	const throughput: Record<string, number> = {};
	for (const count of [1, 2]) {
		const ids: string[] = [];
		for (let i = 0; i < throughputRuns; i += 50) {
			const batch = await Promise.all(
				Array.from({ length: Math.min(50, throughputRuns - i) }, () => start(single))
			);
			ids.push(...batch.map((started) => started.runId));
		}
		await startWorkers(count);
		await waitForAll(ids);
		const [span] = rows<{ seconds: number }>(
			await db.execute(sql`
				select extract(epoch from (max(r.finished_at) - min(s.started_at))) as seconds
				from runs r join run_steps s on s.run_id = r.id
				where r.id = any(${sql.raw(`array[${ids.map((id) => `'${id}'`).join(',')}]::uuid[]`)})
			`)
		);
		throughput[`${count}Worker${count > 1 ? 's' : ''}`] = Math.round(
			throughputRuns / Number(span?.seconds)
		);
		await stopWorkers();
	}

	const results = {
		at: new Date().toISOString(),
		machine: { cpus: os.cpus().length, node: process.version },
		command: 'npm run bench',
		baseline,
		perStepOverhead: {
			steps: stepGaps.length,
			p50Ms: round(percentile(stepGaps, 50)),
			p99Ms: round(percentile(stepGaps, 99)),
			p50VsCommit: round(percentile(stepGaps, 50) / baseline.commitP50Ms, 2),
			target: 'p50 ≤ 3× one bare commit'
		},
		singleStepRunsPerSecond: {
			...throughput,
			vsBaselineCommitsPerSecond: baseline.commitsPerSecond,
			target: '≥ 3,000 runs/s',
			workerConcurrency,
			measured: 'first step start to last run finish, runs enqueued beforehand'
		},
		dispatchLatency: {
			samples: dispatch.length,
			p50Ms: round(percentile(dispatch, 50)),
			p99Ms: round(percentile(dispatch, 99)),
			p50VsCommit: round(percentile(dispatch, 50) / baseline.commitP50Ms, 2),
			target: 'p50 ≤ 5 ms',
			measured: 'enqueueing commit acknowledged to step claimed (system clock, same machine)'
		}
	};
	console.log(JSON.stringify(results, null, 2));
	const folder = path.join(import.meta.dirname, 'results');
	await mkdir(folder, { recursive: true });
	await writeFile(path.join(folder, 'engine.json'), JSON.stringify(results, null, 2) + '\n');
} finally {
	await stopWorkers();
	await database?.close();
	await admin.unsafe(`drop database if exists "${name}" with (force)`);
	await admin.end();
}
