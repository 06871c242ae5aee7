// Agent loop orchestration overhead on real PostgreSQL, beside a baseline measured in the same run.
// An agent with one cheap tool (`current_time`) is scripted to call it on K turns and then answer:
// K + 1 turns (`agent.turn` steps) and K tool calls (`agent.tool` steps) per run, runs one at a time.
//   Per-turn time = run wall time ÷ turns. The run wall time is the run's created_at to its
//   finished_at (the database's clock): intake, the input step, the agent step's first execution,
//   every turn step (its model request, streamed, included), every tool step, each of the agent
//   step's wake-ups between them, and the output step, with every claim, commit, child creation
//   and NOTIFY that takes. The agent step's own span (started_at to finished_at) is reported too.
//   Baseline: one raw HTTP round trip to the same fake model server (node:http, keep-alive, one
//   socket): the exact request bodies the run's turns sent, replayed after each run and answered
//   with the same streamed replies, read to the end of the stream (p50 over every replay).
//   Target: per-turn time − round trip (the overhead) ≤ 5 ms at p50 over runs; p95 is reported.
// The fake server answers at once (no chunk delays). The worker runs in this process (a Worker as
// tests/helpers/engine.ts starts it, with WORKER_CONCURRENCY's default of 32): the agent kinds are
// wired exactly as in tests/engine/agents.test.ts (agentKinds, the guarded client allow-listing the
// fake server), the fake server's scripted replies stay beside the runs that consume them, and the
// baseline's client and server share the event loop the turns' requests share. A CPU profile of
// this process (node --cpu-prof) therefore covers the worker, the client and the fake server.
// The fake server paces its stream with a zero-delay timer per event, so its own time is most of
// the round trip: the baseline carries it, the overhead does not.
// Also reported, to say where the overhead goes: each child step's phases from its timestamps
// (created → claimed → finished, and the hop from the previous child's finish to its creation),
// the CPU per turn of this process and of the scratch database's connections beside a bare round
// trip's, and, from a few more runs after the timed ones, the SQL statements sent per turn by kind.
// Run: `npm run bench` (BENCH_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres),
// or alone: node --experimental-strip-types bench/agents.ts (writes bench/results/agents.json).
// BENCH_AGENT_RUNS (default 30), BENCH_AGENT_TOOL_TURNS (K, default 10).
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { workspaceRunsChannel, type RunEventMessage } from '../src/lib/server/channels.ts';
import { createCredentialKeyring } from '../src/lib/server/credentials/keyring.ts';
import { openDatabase, type Database } from '../src/lib/server/db/index.ts';
import { migrateDatabase, rows } from '../src/lib/server/db/migrate.ts';
import { createGuardedHttp } from '../src/lib/server/outbound/guarded-http.ts';
import { createLogger } from '../src/lib/server/platform/logger.ts';
import { agentKinds } from '../src/lib/server/services/agent-runtime.ts';
import { createCredential, credentialLookup } from '../src/lib/server/services/credentials.ts';
import { createTooling } from '../src/lib/server/tools/tooling.ts';
import { scaled } from '../tests/helpers/deadline.ts';
import { createEngineHarness, type EngineHarness } from '../tests/helpers/engine.ts';
import { startFakeLlm, type FakeLlm, type FakeStep } from '../tests/helpers/fake-llm.ts';
import { meta, testSecret } from '../tests/helpers/services.ts';
import { finish, report, result, round } from './report.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const runCount = Number(process.env.BENCH_AGENT_RUNS ?? 30);
const toolTurns = Number(process.env.BENCH_AGENT_TOOL_TURNS ?? 10);
const warmupRuns = 3;
const countedRuns = 2;
/** How many times each run's request bodies are replayed for the baseline. */
const replaysPerRun = 5;
const workerConcurrency = 32;
const turns = toolTurns + 1;
const apiKey = 'sk-bench-key';

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

/**
 * CPU time (ms) of each connection's server process on the scratch database (client backends: not
 * autovacuum), read from /proc: null when PostgreSQL runs elsewhere. Clock ticks are 1/100 s.
 */
async function databaseCpu(db: Database['db']): Promise<Map<number, number> | null> {
	const pids = rows<{ pid: number }>(
		await db.execute(sql`
			select pid from pg_stat_activity
			where datname = current_database() and backend_type = 'client backend'
		`)
	);
	const ms = new Map<number, number>();
	for (const { pid } of pids) {
		const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
		if (stat === null) return null;
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		ms.set(pid, (Number(fields[11]) + Number(fields[12])) * 10);
	}
	return ms;
}

/** CPU ms the connections used between two readings (a connection opened between counts whole). */
function databaseCpuMs(before: Map<number, number> | null, after: Map<number, number> | null) {
	if (before === null || after === null) return null;
	let used = 0;
	for (const [pid, ms] of after) used += ms - (before.get(pid) ?? 0);
	return used;
}

/** What the fake server answers in one run: K tool calls, then the answer. */
function script(): FakeStep[] {
	const usage = { inputTokens: 40, outputTokens: 8 };
	return [
		...Array.from({ length: toolTurns }, (): FakeStep => ({
			kind: 'reply',
			toolCalls: [{ name: 'current_time', arguments: { timeZone: 'UTC' } }],
			usage
		})),
		{ kind: 'reply', text: 'It is late.', usage }
	];
}

/** One POST to the fake server through a keep-alive agent, the streamed answer read to its end. */
function roundTrip(agent: http.Agent, fake: FakeLlm, path: string, body: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const started = performance.now();
		const request = http.request(
			`${fake.url}${path}`,
			{
				method: 'POST',
				agent,
				headers: {
					'content-type': 'application/json',
					'content-length': Buffer.byteLength(body),
					authorization: `Bearer ${apiKey}`
				}
			},
			(response) => {
				response.on('data', () => {});
				response.on('end', () =>
					response.statusCode === 200
						? resolve(performance.now() - started)
						: reject(new Error(`the fake server answered ${response.statusCode}`))
				);
				response.on('error', reject);
			}
		);
		request.on('error', reject);
		request.end(body);
	});
}

let database: Database | undefined;
let engine: EngineHarness | undefined;
let fake: FakeLlm | undefined;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

try {
	database = await openDatabase({ url: databaseUrl, maxConnections: 10 });
	await migrateDatabase(database);
	const db = database.db;
	fake = await startFakeLlm({ apiKey });
	const logger = createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'production' });
	const lookupCredential = credentialLookup({
		db,
		keys: { credentials: createCredentialKeyring(testSecret) },
		now: () => new Date()
	});
	const allow = [{ host: '127.0.0.1', port: fake.port }];
	const tooling = createTooling({ lookupCredential, allow, codeRunners: 1 });
	const kinds = agentKinds({
		db,
		logger,
		tools: { registry: tooling.tools, sandbox: tooling.sandbox, http: tooling.http },
		lookupCredential,
		http: createGuardedHttp({ allow })
	});
	engine = await createEngineHarness(database, kinds, { logger });
	await engine.startWorker({ concurrency: workerConcurrency, pollMs: 5_000 });
	const { ctx, owner, workspaceId } = engine;
	const credential = await createCredential(
		ctx,
		owner.principal,
		workspaceId,
		{ name: 'Fake OpenAI key', kind: 'openai', apiKey, baseUrl: null, organization: null },
		meta
	);
	const [provider] = rows<{ id: string }>(
		await db.execute(sql`
			insert into model_providers (workspace_id, name, kind, base_url, credential_id, default_model,
				concurrency, timeout_ms)
			values (${workspaceId}, 'Fake OpenAI', 'openai', ${`${fake.url}/v1`}, ${credential.id},
				'fake-model', 4, 30000)
			returning id
		`)
	);
	const workflowId = await engine.publish({
		inputs: [{ name: 'question', type: 'string', required: true }],
		nodes: [
			{ id: 'start', kind: 'input' },
			{
				id: 'agent',
				kind: 'agent',
				config: {
					providerId: provider?.id,
					instructions: 'Answer with the time.',
					prompt: '{{ input.question }}',
					tools: [{ type: 'builtin', name: 'current_time' }],
					limits: { maxTurns: turns }
				}
			},
			{ id: 'done', kind: 'output' }
		],
		edges: [
			{ from: 'start', to: 'agent' },
			{ from: 'agent', to: 'done' }
		]
	});

	// Runs end on the bus the worker publishes to: no polling next to the measured work.
	const finished = new Map<string, (event: RunEventMessage) => void>();
	const unsubscribe = await ctx.bus.subscribe(workspaceRunsChannel(workspaceId), (message) => {
		const event = message as RunEventMessage;
		if (['run.succeeded', 'run.failed', 'run.cancelled'].includes(event.type))
			finished.get(event.runId)?.(event);
	});

	/** One run, start to end; its timings from the database's clock. */
	async function oneRun() {
		const requestsBefore = fake!.requests.length;
		fake!.script(...script());
		// Settled by the bus handler: no timer wakes this process while the run is measured.
		let settle: (event: RunEventMessage) => void = () => {};
		const ended = new Promise<RunEventMessage>((resolve) => (settle = resolve));
		const run = await engine!.start(workflowId, { question: 'What time is it?' });
		finished.set(run.id, settle);
		let timer: NodeJS.Timeout | undefined;
		const event = await Promise.race([
			ended,
			new Promise<never>((_, reject) => {
				timer = setTimeout(
					() => reject(new Error(`agent run ${run.id} did not finish in time`)),
					scaled(60_000)
				);
			})
		]).finally(() => clearTimeout(timer));
		finished.delete(run.id);
		if (event.type !== 'run.succeeded') throw new Error(`agent run ${run.id} ended ${event.type}`);
		const [timing] = rows<{ run_ms: number; agent_ms: number; turns: number; tools: number }>(
			await db.execute(sql`
				select extract(epoch from (r.finished_at - r.created_at)) * 1000 as run_ms,
					extract(epoch from (a.finished_at - a.started_at)) * 1000 as agent_ms,
					(select count(*)::int from run_steps c where c.run_id = r.id and c.kind = 'agent.turn') as turns,
					(select count(*)::int from run_steps c where c.run_id = r.id and c.kind = 'agent.tool') as tools
				from runs r join run_steps a on a.run_id = r.id and a.node_id = 'agent' and a.path = ''
				where r.id = ${run.id}
			`)
		);
		if (timing?.turns !== turns || timing.tools !== toolTurns)
			throw new Error(
				`agent run ${run.id} made ${timing?.turns} turns, ${timing?.tools} tool calls`
			);
		const sent = fake!.requests
			.slice(requestsBefore)
			.filter((request) => request.method === 'POST')
			.map((request) => ({ path: request.path, body: JSON.stringify(request.body) }));
		return { runId: run.id, runMs: Number(timing.run_ms), agentMs: Number(timing.agent_ms), sent };
	}

	/** The run's own requests, each answered as in the run, timed one after another. */
	async function replay(sent: { path: string; body: string }[]): Promise<number[]> {
		const times: number[] = [];
		for (let round = 0; round < replaysPerRun; round++) {
			fake!.script(...script());
			for (const request of sent)
				times.push(await roundTrip(agent, fake!, request.path, request.body));
		}
		return times;
	}

	for (let i = 0; i < warmupRuns; i++) await replay((await oneRun()).sent);

	const runMs: number[] = [];
	const agentMs: number[] = [];
	const roundTrips: number[] = [];
	const runIds: string[] = [];
	/** This process's CPU during the runs (worker, fake server, client), replays excluded. */
	let processCpuUs = 0;
	/** The same for the replays: what a bare round trip costs this process. */
	let replayCpuUs = 0;
	const databaseCpuBefore = await databaseCpu(db);
	const startedAt = performance.now();
	for (let i = 0; i < runCount; i++) {
		const cpu = process.cpuUsage();
		const measured = await oneRun();
		const used = process.cpuUsage(cpu);
		processCpuUs += used.user + used.system;
		runMs.push(measured.runMs);
		agentMs.push(measured.agentMs);
		runIds.push(measured.runId);
		const replayCpu = process.cpuUsage();
		roundTrips.push(...(await replay(measured.sent)));
		const replayUsed = process.cpuUsage(replayCpu);
		replayCpuUs += replayUsed.user + replayUsed.system;
	}
	const databaseCpuAfter = await databaseCpu(db);
	const databaseCpuUsed = databaseCpuMs(databaseCpuBefore, databaseCpuAfter);
	console.log(`${runCount} runs in ${round((performance.now() - startedAt) / 1000, 1)} s`);

	// Where a turn's time goes, from the steps' timestamps: p50 over the timed runs' children.
	const ids = sql.raw(`array[${runIds.map((id) => `'${id}'`).join(',')}]::uuid[]`);
	const phases = rows<{ kind: string; dispatch: number; execute: number; hop: number | null }>(
		await db.execute(sql`
			with c as (
				select kind, created_at, started_at, finished_at,
					lag(finished_at) over (partition by run_id order by created_at) as previous
				from run_steps where run_id = any(${ids}) and path <> ''
			)
			select kind,
				percentile_cont(0.5) within group (order by extract(epoch from started_at - created_at) * 1000) as dispatch,
				percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at) * 1000) as execute,
				percentile_cont(0.5) within group (order by extract(epoch from created_at - previous) * 1000) as hop
			from c group by kind order by kind
		`)
	);
	const phaseMs = Object.fromEntries(
		phases.map((phase) => [
			phase.kind,
			{
				createdToStarted: round(Number(phase.dispatch)),
				startedToFinished: round(Number(phase.execute)),
				previousChildFinishedToCreated: phase.hop === null ? null : round(Number(phase.hop))
			}
		])
	);

	// Statements per run, by kind: postgres.js hands each statement it sends to `debug`.
	const options = (db as unknown as { $client: { options: { debug: unknown } } }).$client.options;
	const statements = new Map<string, number>();
	options.debug = (_connection: number, query: string) => {
		const key = query.replace(/\s+/g, ' ').trim().slice(0, 70);
		statements.set(key, (statements.get(key) ?? 0) + 1);
	};
	for (let i = 0; i < countedRuns; i++) await oneRun();
	options.debug = false;
	await unsubscribe();
	const statementsPerTurn = Object.fromEntries(
		[...statements]
			.sort((a, b) => b[1] - a[1])
			.map(([key, count]) => [key, round(count / (countedRuns * turns), 2)])
	);
	const statementTotal = [...statements.values()].reduce((sum, count) => sum + count, 0);

	const perTurn = runMs.map((ms) => ms / turns);
	const agentPerTurn = agentMs.map((ms) => ms / turns);
	const oneRoundTrip = {
		value: percentile(roundTrips, 50),
		is: "one raw HTTP round trip to the same fake server (a turn's request body, keep-alive, streamed answer read to its end), p50"
	};
	await finish(
		report(
			'agents',
			[
				result({
					metric: `agent per-turn time p50 over runs (${turns} turns + ${toolTurns} tool calls per run)`,
					value: percentile(perTurn, 50),
					unit: 'ms',
					baseline: oneRoundTrip,
					target: { of: 'overhead', op: '<=', value: 5 }
				}),
				result({
					metric: 'agent per-turn time p95 over runs',
					value: percentile(perTurn, 95),
					unit: 'ms',
					baseline: oneRoundTrip
				})
			],
			{
				runs: runCount,
				turnsPerRun: turns,
				toolCallsPerRun: toolTurns,
				workerConcurrency,
				worker: 'in-process Worker (tests/helpers/engine.ts), in-memory commits on, pollMs 5000',
				perTurnMs: {
					p50: round(percentile(perTurn, 50)),
					p95: round(percentile(perTurn, 95)),
					min: round(Math.min(...perTurn)),
					max: round(Math.max(...perTurn)),
					measured: 'run created_at to finished_at (database clock) ÷ turns; runs one at a time'
				},
				overheadPerTurnMs: {
					p50: round(percentile(perTurn, 50) - oneRoundTrip.value),
					p95: round(percentile(perTurn, 95) - oneRoundTrip.value)
				},
				agentStepPerTurnMs: {
					p50: round(percentile(agentPerTurn, 50)),
					p95: round(percentile(agentPerTurn, 95)),
					measured:
						"the agent step's started_at to finished_at ÷ turns (no intake, input or output step)"
				},
				roundTripMs: {
					samples: roundTrips.length,
					p50: round(percentile(roundTrips, 50)),
					p95: round(percentile(roundTrips, 95)),
					measured: `each run's ${turns} request bodies replayed ${replaysPerRun} times after it`
				},
				stepPhasesP50Ms: {
					...phaseMs,
					measured:
						"per child step: created to claimed (NOTIFY, claim), claimed to finished (execution and commit), and the previous child's finish to its creation (that child's commit, the agent step's wake-up, claim, execution and the commit that creates this one)"
				},
				cpuPerTurnMs: {
					thisProcess: round(processCpuUs / 1000 / (runCount * turns)),
					thisProcessPerRoundTrip: round(replayCpuUs / 1000 / roundTrips.length),
					database: databaseCpuUsed === null ? null : round(databaseCpuUsed / (runCount * turns)),
					measured:
						'process.cpuUsage() around each run (worker, fake server and client; replays excluded) and around the replays (÷ round trips), and the server processes of the scratch database from /proc (10 ms ticks), ÷ turns'
				},
				sqlStatements: {
					perTurn: round(statementTotal / (countedRuns * turns), 2),
					perRun: round(statementTotal / countedRuns, 1),
					byKindPerTurn: statementsPerTurn,
					measured: `statements this process sent during ${countedRuns} more runs (the worker, the run starts and the lookups of this benchmark), by their first 70 characters`
				}
			}
		)
	);
} finally {
	agent.destroy();
	await engine?.stopWorkers();
	await fake?.close();
	await database?.close();
	await admin.unsafe(`drop database if exists "${name}" with (force)`);
	await admin.end();
}
