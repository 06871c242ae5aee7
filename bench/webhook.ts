// Webhook intake throughput: one server (in-process worker) answers an authenticated GET /api/v1/me
// and POST /hooks/{id} of a two-node workflow (transform → output), accepted and result modes, at 10
// and 100 connections, with autocannon, in the same run. Each webhook figure is reported beside the
// /me figure at the same connections (baseline) and their ratio.
// Targets on PostgreSQL: ≥ 1,000 runs/s accepted, ≥ 500 runs/s in result mode, zero errors (a non-2xx
// answer counts as one). The embedded database (PGlite) is measured and reported without a target.
// Run: node --experimental-strip-types --no-warnings=ExperimentalWarning bench/webhook.ts
// BENCH_DATABASES=postgres,pglite (default both), BENCH_SECONDS=10 per measurement,
// BENCH_MODES=accepted,result and BENCH_CONNECTIONS=10,100 (the defaults) pick the measurements,
// BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres (a scratch database is made there and
// dropped), BENCH_CPU_PROF=<dir> starts the server with --cpu-prof into that folder.
// Part of `npm run bench`; alone, it writes bench/results/webhook.json (bench/report.ts).
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { buildIfStale, projectRoot } from '../scripts/build-if-stale.js';
import { waitUntil } from '../tests/helpers/deadline.ts';
import { freePort, startProcess } from '../tests/helpers/processes.ts';
import { finish, report, result, type Result } from './report.ts';
import { signUpForSession } from './session.ts';

type Database = 'postgres' | 'pglite';
type Mode = 'accepted' | 'result';

const databases = (process.env.BENCH_DATABASES ?? 'postgres,pglite')
	.split(',')
	.map((name) => name.trim()) as Database[];
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '10,100').split(',').map(Number);
const modes = (process.env.BENCH_MODES ?? 'accepted,result').split(',') as Mode[];
const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const targets: Record<Database, Record<Mode, number | null>> = {
	postgres: { accepted: 1_000, result: 500 },
	pglite: { accepted: null, result: null }
};

const workflow = {
	inputs: [{ name: 'n', type: 'number', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'double', kind: 'transform', config: { expression: 'n * 2' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'double' },
		{ from: 'double', to: 'done' }
	]
};

interface Load {
	requestsPerSecond: number;
	requests: number;
	errors: number;
	latencyP50Ms: number;
	latencyP99Ms: number;
}

async function load(
	url: string,
	connections: number,
	options: { method?: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
	duration = seconds
): Promise<Load> {
	const result = await autocannon({
		url,
		connections,
		duration,
		method: options.method ?? 'GET',
		headers: options.headers,
		body: options.body,
		timeout: 60
	});
	return {
		requestsPerSecond: result.requests.mean,
		requests: result.requests.total,
		errors: result.errors + result.timeouts + result.non2xx,
		latencyP50Ms: result.latency.p50,
		latencyP99Ms: result.latency.p99
	};
}

/** Starts server.js on a fresh database; `stop` ends it and removes what it made, also after a failure. */
async function startServer(database: Database) {
	const port = await freePort();
	const dataDir = await mkdtemp(path.join(os.tmpdir(), 'awe-bench-webhook-'));
	const cleanups: (() => Promise<void>)[] = [() => rm(dataDir, { recursive: true, force: true })];
	const cleanup = async () => {
		for (const step of cleanups.reverse()) await step().catch(() => {});
	};
	const env: Record<string, string> = {
		PATH: process.env.PATH ?? '',
		PORT: String(port),
		HOST: '127.0.0.1',
		DATA_DIR: dataDir,
		LOG_LEVEL: 'warn',
		BCRYPT_COST: '10',
		IN_PROCESS_WORKER: 'true'
	};
	try {
		if (database === 'postgres') {
			const name = `awe_bench_webhook_${randomBytes(4).toString('hex')}`;
			const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
			try {
				await admin.unsafe(`create database ${name}`);
			} finally {
				await admin.end({ timeout: 5 });
			}
			cleanups.push(async () => {
				const drop = postgres(adminUrl, { max: 1, onnotice: () => {} });
				try {
					await drop.unsafe(`drop database if exists ${name} with (force)`);
				} finally {
					await drop.end({ timeout: 5 });
				}
			});
			const url = new URL(adminUrl);
			url.pathname = `/${name}`;
			env.DATABASE_URL = url.toString();
			env.AWE_SECRET_KEY = 'bench-secret-key-0123456789abcdefghij';
		}
	} catch (error) {
		await cleanup();
		throw error;
	}
	const profileDir = process.env.BENCH_CPU_PROF;
	const base = `http://127.0.0.1:${port}`;
	const server = await startProcess(
		process.execPath,
		profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, 'server.js'] : ['server.js'],
		{
			name: `server.js on ${database}`,
			cwd: projectRoot,
			env,
			ready: {
				what: 'GET /readyz to answer 200',
				baseMs: 120_000,
				intervalMs: 200,
				check: () =>
					fetch(`${base}/readyz`).then(
						(response) => response.ok,
						() => false
					)
			},
			cleanup
		}
	);
	return { base, stop: () => server.stop() };
}

async function prepare(base: string) {
	const cookie = await signUpForSession(base);
	const call = async <T>(route: string, method = 'GET', body?: unknown): Promise<T> => {
		const response = await fetch(base + route, {
			method,
			headers: { cookie, origin: base, 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body)
		});
		if (!response.ok)
			throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
		return (await response.json()) as T;
	};
	const [workspace] = await call<{ id: string }[]>('/api/v1/workspaces');
	if (!workspace) throw new Error('no workspace');
	const workspaceBase = `/api/v1/workspaces/${workspace.id}`;
	const { id: workflowId } = await call<{ id: string }>(`${workspaceBase}/workflows`, 'POST', {
		name: 'Bench',
		definition: workflow
	});
	await call(`${workspaceBase}/workflows/${workflowId}/versions/1/publish`, 'POST', {});
	const hooks = {} as Record<Mode, { path: string; secret: string }>;
	for (const respond of ['accepted', 'result'] as const) {
		const trigger = await call<{ path: string; secret: string }>(
			`${workspaceBase}/workflows/${workflowId}/triggers`,
			'POST',
			{ kind: 'webhook', name: respond, config: { respond, rateLimitPerSecond: 0 } }
		);
		hooks[respond] = trigger;
	}
	const activeRuns = async () =>
		(
			await call<{ runs: unknown[] }>(
				`${workspaceBase}/runs?status=queued,running&limit=1&workflowId=${workflowId}`
			)
		).runs.length;
	return { cookie, hooks, activeRuns };
}

const results: Result[] = [];
const latencies: Record<string, { p50Ms: number; p99Ms: number }> = {};

for (const database of databases) {
	buildIfStale();
	const server = await startServer(database);
	try {
		const { cookie, hooks, activeRuns } = await prepare(server.base);
		const hookCall = (mode: Mode) => ({
			method: 'POST' as const,
			headers: {
				authorization: `Bearer ${hooks[mode].secret}`,
				'content-type': 'application/json'
			},
			body: JSON.stringify({ n: 21 })
		});
		const me = { headers: { cookie } };
		const drained = () =>
			waitUntil(async () => (await activeRuns()) === 0, {
				what: 'the queued runs to finish',
				baseMs: 600_000,
				intervalMs: 200
			});
		// Warm up the JIT, the pools and the caches on every path before measuring.
		await load(`${server.base}/api/v1/me`, 10, me, 2);
		await load(server.base + hooks.accepted.path, 10, hookCall('accepted'), 2);
		await drained();
		await load(server.base + hooks.result.path, 10, hookCall('result'), 2);
		for (const connections of connectionCounts) {
			const baseline = await load(`${server.base}/api/v1/me`, connections, me);
			for (const mode of modes) {
				const measured = await load(server.base + hooks[mode].path, connections, hookCall(mode));
				await drained();
				const target = targets[database][mode];
				const label = `${database}, ${mode}, ${connections} connections`;
				results.push(
					result({
						metric: `webhook runs/s, ${label}`,
						value: measured.requestsPerSecond,
						unit: 'runs/s',
						baseline: {
							value: baseline.requestsPerSecond,
							is: 'GET /api/v1/me with a session, same server, same connections'
						},
						...(target === null ? {} : { target: { of: 'value', op: '>=', value: target } })
					}),
					result({
						metric: `errors (non-2xx, timeouts), ${label}`,
						value: measured.errors + baseline.errors,
						unit: 'responses',
						...(target === null ? {} : { target: { of: 'value', op: '==', value: 0 } })
					})
				);
				latencies[label] = { p50Ms: measured.latencyP50Ms, p99Ms: measured.latencyP99Ms };
			}
		}
	} finally {
		await server.stop();
	}
}

await finish(
	report('webhook', results, {
		secondsPerMeasurement: seconds,
		workflow: 'input → transform → output, in-process worker',
		latencies
	})
);
