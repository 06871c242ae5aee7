// Realtime fan-out: 1,000 WebSocket subscribers on one run, events with 256 bytes of data, beside a
// baseline measured in the same run: a bare `ws` server broadcasting frames of the same size and
// shape to the same 1,000 clients, each commit's frames in one write per socket (as the server does).
//   1. delivered events per second (events × subscribers / time), at most `window` events in flight
//   2. commit-to-client latency p50/p99 at a steady rate (baseline: send-to-client)
//   3. server memory with one client that stops reading (its queue, and how it is closed)
// Targets: throughput ≥ 50% of the baseline; p99 commit-to-client < 50 ms; memory bounded with a
// slow client (it is closed with 4008 once its queue passes maxBufferedBytes, 1 MiB).
// Baseline and realtime alternate over two rounds (drift and other load on the machine hit both);
// each reports its best round. Server CPU per delivery is reported too: on a busy machine it says
// more than the ratio of throughputs.
// Path: this process commits events the way workers do (lockRun + EventLog in a transaction, then
// publishEvents on Redis); a child process runs createRealtimeServer (Redis bus, real PostgreSQL);
// another child holds the clients. Commit time is taken when the commit returns, arrival time when
// the client's socket yields the frame, both from the system clock.
// Run: `npm run bench` (BENCH_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres,
// BENCH_REDIS_URL to redis://127.0.0.1:6379), or alone: node --experimental-strip-types
// bench/realtime.ts (writes bench/results/realtime.json).
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import postgres from 'postgres';
import { openDatabase, type Database } from '../src/lib/server/db/index.ts';
import { migrateDatabase } from '../src/lib/server/db/migrate.ts';
import { EventLog, lockRun } from '../src/lib/server/engine/transitions.ts';
import { publishEvents } from '../src/lib/server/bus/run-events.ts';
import type { EventBus } from '../src/lib/server/bus/bus.ts';
import { eventMessage } from '../src/lib/server/realtime/hub.ts';
import { createRedisBus } from '../src/lib/server/bus/redis-bus.ts';
import { defaultLimits, realtimePath } from '../src/lib/server/realtime/server.ts';
import { closeCodes } from '../src/lib/schemas/realtime.ts';
import { sessionCookieName } from '../src/lib/server/auth/session.ts';
import { createEngineHarness } from '../tests/helpers/engine.ts';
import {
	channelTo,
	wallClock,
	type ClientCommands,
	type Group,
	type MemorySample,
	type PhaseStats,
	type ServerCommands,
	type Target
} from './realtime/ipc.ts';
import { finish, report, result, type Result } from './report.ts';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const throughputEvents = Number(process.env.BENCH_EVENTS ?? 1000);
const eventsPerCommit = 20;
/** Events written but not yet delivered to every subscriber: keeps each socket's queue far below 1 MiB. */
const window = 200;
// One event per commit. On 2 CPUs shared by server, clients and PostgreSQL, fan-out saturates near
// 80,000 deliveries/s: 50 events/s to 1,000 subscribers leaves headroom, 100/s does not.
const steadyRate = Number(process.env.BENCH_RATE ?? 50);
const steadySeconds = Number(process.env.BENCH_STEADY_SECONDS ?? 5);
// The kernel takes ~4 MB for a socket that is not read before the server's queue grows at all, so
// the slow-client burst is ~7 MB; 20 subscribers keep reading through it, to keep it short.
const slowBurstEvents = 14_000;
const slowPhaseSubscribers = 20;
const dataBytes = 256;

const round = (value: number, digits = 0) => Number(value.toFixed(digits));
const mib = (bytes: number) => round(bytes / 1024 / 1024, 2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const startedAt = Date.now();
const log = (message: string) =>
	console.log(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)} s  ${message}`);

const name = `awe_bench_${Date.now()}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database "${name}"`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const databaseUrl = url.toString();

let database: Database | undefined;
let bus: EventBus | undefined;
let serverProcess: ChildProcess | undefined;
let clientsProcess: ChildProcess | undefined;

const start = (script: string, args: string[] = []) =>
	fork(path.join(import.meta.dirname, 'realtime', script), {
		execArgv: ['--experimental-strip-types', '--no-warnings=ExperimentalWarning', ...args],
		env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, REDIS_URL: redisUrl },
		stdio: ['ignore', 'inherit', 'inherit', 'ipc']
	});

try {
	database = await openDatabase({ url: databaseUrl, maxConnections: 4 });
	await migrateDatabase(database);
	const db = database.db;
	// The real clock: the server child checks the session against it.
	const engine = await createEngineHarness(database, [], { now: () => new Date() });
	const { owner, workspaceId } = engine;
	const workflowId = await engine.publish(
		{ nodes: [{ id: 'start', kind: 'input' }], edges: [] },
		'Realtime bench'
	);
	// No worker runs, so the run stays queued: only the bench writes its events.
	const run = await engine.start(workflowId, {});
	const runBus = await createRedisBus(redisUrl, (error) => console.error(error));
	bus = runBus;

	log('database ready');
	serverProcess = start('server.ts', ['--expose-gc']);
	const server = channelTo<ServerCommands>(serverProcess);
	const { port, rawPort } = await new Promise<{ port: number; rawPort: number }>((resolve) =>
		server.on('ready', resolve)
	);
	clientsProcess = start('clients.ts');
	const clients = channelTo<ClientCommands>(clientsProcess);

	const data = { note: 'x'.repeat(dataBytes - JSON.stringify({ note: '' }).length) };
	let seq = run.eventSeq;
	let rawSeq = 0;
	const frameOf = (at: number) =>
		JSON.stringify(
			eventMessage(
				{
					runId: run.id,
					workspaceId,
					seq: at,
					type: 'bench.tick',
					stepId: null,
					nodeId: null,
					data,
					at: new Date().toISOString()
				},
				'run'
			)
		);
	// What the server sends (seq has 4 digits in most of the run).
	const frameBytes = Buffer.byteLength(frameOf(1000));

	/** Commits `count` events in one transaction, as a worker does; returns when the commit returned. */
	async function commit(count: number): Promise<number> {
		const events = await db.transaction(async (tx) => {
			await lockRun(tx, run.id);
			const eventLog = new EventLog();
			for (let i = 0; i < count; i++)
				eventLog.add(run.id, workspaceId, { type: 'bench.tick', data });
			return eventLog.write(tx);
		});
		const committedAt = wallClock();
		seq = events.at(-1)?.seq ?? seq;
		await publishEvents(runBus, events);
		return committedAt;
	}

	/** The baseline's writer: the same messages, serialized here, broadcast by the server child. */
	async function broadcast(count: number): Promise<number> {
		const frames = Array.from({ length: count }, () => frameOf(++rawSeq));
		const sentAt = wallClock();
		await server.request('broadcast', { frames });
		return sentAt;
	}

	const writers: Record<
		Group,
		{ send: (count: number) => Promise<number>; nextSeq: () => number }
	> = {
		realtime: { send: commit, nextSeq: () => seq + 1 },
		raw: { send: broadcast, nextSeq: () => rawSeq + 1 }
	};

	type Pace = { window: number } | { rate: number };

	/** Writes events and waits until every subscriber has them (or 15 s passed), then collects stats. */
	async function measure(group: Group, events: number, audience: number, pace: Pace) {
		const writer = writers[group];
		await clients.request('phase', { group, firstSeq: writer.nextSeq(), events });
		let delivered = 0;
		let wake = () => {};
		const stop = clients.on('progress', (count) => {
			delivered = count;
			wake();
		});
		const progress = () =>
			new Promise<void>((resolve) => {
				wake = resolve;
				setTimeout(resolve, 50);
			});
		const sentAt: number[] = [];
		const cpu = () => Promise.all([server.request('cpu', {}), clients.request('cpu', {})]);
		const cpuBefore = await cpu();
		const started = wallClock();
		if ('window' in pace) {
			while (sentAt.length < events) {
				while ((sentAt.length - pace.window) * audience > delivered) await progress();
				const count = Math.min(eventsPerCommit, events - sentAt.length);
				const at = await writer.send(count);
				for (let i = 0; i < count; i++) sentAt.push(at);
			}
		} else {
			for (let i = 0; i < events; i++) {
				await sleep(started + (i * 1000) / pace.rate - wallClock());
				sentAt.push(await writer.send(1));
			}
		}
		const deadline = wallClock() + 15_000;
		while (delivered < events * audience && wallClock() < deadline) await progress();
		stop();
		const stats = await clients.request('finish', { sentAt });
		const cpuAfter = await cpu();
		const seconds = (stats.lastReceivedAt - started) / 1000;
		// CPU per delivery: what each side costs, whichever of them (or the machine) was the limit.
		const micros = (side: 0 | 1) =>
			round(((cpuAfter[side] - cpuBefore[side]) * 1000) / stats.delivered, 2);
		return {
			...stats,
			seconds: round(seconds, 2),
			deliveredPerSecond: round(stats.delivered / seconds),
			serverCpuMicrosPerDelivery: micros(0),
			clientsCpuMicrosPerDelivery: micros(1)
		};
	}
	type Measured = Awaited<ReturnType<typeof measure>>;

	const correctness = (stats: PhaseStats) => ({
		missing: stats.missing,
		duplicates: stats.duplicates,
		outOfOrder: stats.outOfOrder,
		clientsCut: stats.clientsCut
	});
	const throughputOf = (stats: Measured) => ({
		deliveredPerSecond: stats.deliveredPerSecond,
		seconds: stats.seconds,
		serverCpuMicrosPerDelivery: stats.serverCpuMicrosPerDelivery,
		clientsCpuMicrosPerDelivery: stats.clientsCpuMicrosPerDelivery,
		...correctness(stats)
	});
	const latencyOf = (stats: Measured) => ({
		p50Ms: stats.latencyMs.p50,
		p99Ms: stats.latencyMs.p99,
		maxMs: stats.latencyMs.max,
		// When the last of the subscribers had the event.
		lastSubscriberP99Ms: stats.fanOutMs.p99,
		serverCpuMicrosPerDelivery: stats.serverCpuMicrosPerDelivery,
		...correctness(stats)
	});

	const cookie = `${sessionCookieName(false)}=${owner.token}`;
	function target(group: Group): Target {
		return group === 'realtime'
			? {
					url: `ws://127.0.0.1:${port}${realtimePath}`,
					headers: { cookie, origin: `http://127.0.0.1:${port}` },
					runId: run.id,
					afterSeq: seq
				}
			: { url: `ws://127.0.0.1:${rawPort}/`, headers: {} };
	}

	/** One client that stops reading, beside `slowPhaseSubscribers` readers, during a burst. */
	async function slowClient(group: Group) {
		await clients.request('closeAll', { group, keep: slowPhaseSubscribers });
		const before = await server.request('memory', { gc: true });
		await clients.request('connectSlow', target(group));
		let resumed: Promise<{ closeCode: number | null }> | null = null;
		// Read again as soon as the server wrote its close frame, before its 5 s terminate.
		const stop = server.on('slowClosed', () => {
			resumed ??= clients.request('resumeSlow', { awaitClose: true });
		});
		await server.request('watch', {});
		const burst = await measure(group, slowBurstEvents, slowPhaseSubscribers, { window });
		const watched = await server.request('unwatch', {});
		stop();
		const ending = await (resumed ?? clients.request('resumeSlow', { awaitClose: false }));
		await clients.request('closeAll', { group, keep: 0 });
		await sleep(200);
		const after = await server.request('memory', { gc: true });
		const growth = (sample: MemorySample) => ({
			rssMiB: mib(sample.rss - before.rss),
			heapUsedMiB: mib(sample.heapUsed - before.heapUsed),
			externalMiB: mib(sample.external - before.external)
		});
		return {
			readers: slowPhaseSubscribers,
			burstEvents: slowBurstEvents,
			burstMiB: mib(slowBurstEvents * frameBytes),
			readersKeptUp: burst.missing === 0 && burst.clientsCut === 0,
			slowQueuePeakMiB: mib(watched.slowQueuePeakBytes),
			closeFrameSent: watched.slowClosedWith,
			closeCodeReceived: ending.closeCode,
			serverMemoryBeforeMiB: {
				rss: mib(before.rss),
				heapUsed: mib(before.heapUsed),
				external: mib(before.external)
			},
			serverMemoryPeakGrowth: growth(watched.peak),
			serverMemoryGrowthAfter: growth(after)
		};
	}

	// This process's clock against the clients' (both the system clock), over IPC.
	let clockOffsetMs = Infinity;
	let bestRoundTrip = Infinity;
	for (let i = 0; i < 20; i++) {
		const sent = wallClock();
		const theirs = await clients.request('clock', {});
		const back = wallClock();
		if (back - sent < bestRoundTrip) {
			bestRoundTrip = back - sent;
			clockOffsetMs = theirs - (sent + back) / 2;
		}
	}

	const groups: Group[] = ['raw', 'realtime'];
	const memory: Record<string, number | string> = {
		serverRssNoClientsMiB: mib((await server.request('memory', { gc: true })).rss),
		note: 'RSS without clients is mostly module loading (type stripping); growth is what counts'
	};
	for (const group of groups) {
		const before = await server.request('memory', { gc: true });
		const connected = await clients.request('connect', {
			...target(group),
			group,
			count: subscribers
		});
		const after = await server.request('memory', { gc: true });
		memory[`${group}ConnectionsRssMiB`] = mib(after.rss - before.rss);
		log(`${group}: ${connected.connected} subscribers in ${round(connected.seconds, 1)} s`);
		await measure(group, 200, subscribers, { window }); // warm-up
	}

	// Rounds alternate between the two so that drift (JIT, GC, other load on the machine) hits both;
	// each reports its best round.
	const rounds: Record<Group, { throughput: Measured[]; steady: Measured[] }> = {
		raw: { throughput: [], steady: [] },
		realtime: { throughput: [], steady: [] }
	};
	for (let round = 0; round < 2; round++) {
		for (const group of groups) {
			const measured = await measure(group, throughputEvents, subscribers, { window });
			rounds[group].throughput.push(measured);
			log(`${group}: ${measured.deliveredPerSecond} deliveries/s`);
		}
		for (const group of groups) {
			const measured = await measure(group, steadyRate * steadySeconds, subscribers, {
				rate: steadyRate
			});
			rounds[group].steady.push(measured);
			log(`${group}: p50 ${measured.latencyMs.p50} ms, p99 ${measured.latencyMs.p99} ms`);
		}
	}
	const best = (group: Group) => ({
		throughput: rounds[group].throughput.reduce((a, b) =>
			b.deliveredPerSecond > a.deliveredPerSecond ? b : a
		),
		steady: rounds[group].steady.reduce((a, b) => (b.latencyMs.p99 < a.latencyMs.p99 ? b : a))
	});
	const raw = best('raw');
	const realtime = best('realtime');

	await clients.request('closeAll', { group: 'realtime', keep: slowPhaseSubscribers });
	const rawSlow = await slowClient('raw');
	const realtimeSlow = await slowClient('realtime');
	log(
		`slow client queue: raw ${rawSlow.slowQueuePeakMiB} MiB, realtime ${realtimeSlow.slowQueuePeakMiB} MiB`
	);
	await server.request('close', {});

	const cpuRatio =
		realtime.throughput.serverCpuMicrosPerDelivery / raw.throughput.serverCpuMicrosPerDelivery;
	const targets: Record<'throughput' | 'latency' | 'queue' | 'closed', Result> = {
		throughput: result({
			metric: `delivered events/s, ${subscribers} subscribers`,
			value: realtime.throughput.deliveredPerSecond,
			unit: '/s',
			baseline: {
				value: raw.throughput.deliveredPerSecond,
				is: 'a bare ws server broadcasting the same frames to the same clients'
			},
			target: { of: 'ratio', op: '>=', value: 0.5 }
		}),
		latency: result({
			metric: `commit-to-client p99 at ${steadyRate} events/s`,
			value: realtime.steady.latencyMs.p99,
			unit: 'ms',
			baseline: { value: raw.steady.latencyMs.p99, is: 'the bare ws server, send-to-client p99' },
			target: { of: 'value', op: '<', value: 50 }
		}),
		// Bounded: the slow client's queue stops at maxBufferedBytes (plus one write) and it is closed.
		queue: result({
			metric: 'slow client: send queue peak',
			value: realtimeSlow.slowQueuePeakMiB,
			unit: 'MiB',
			baseline: {
				value: rawSlow.slowQueuePeakMiB,
				is: 'the bare ws server, which lets it grow'
			},
			target: { of: 'value', op: '<=', value: mib(defaultLimits.maxBufferedBytes + 64 * 1024) }
		}),
		closed: result({
			metric: 'slow client: close code received',
			value: realtimeSlow.closeCodeReceived ?? NaN,
			unit: 'code',
			target: { of: 'value', op: '==', value: closeCodes.slowConsumer }
		})
	};
	const details = {
		setup: {
			subscribers,
			eventDataBytes: dataBytes,
			frameBytes,
			eventsPerCommit,
			windowEvents: window,
			throughputEvents,
			steadyRatePerSecond: steadyRate,
			steadySeconds,
			rounds: 2,
			clockOffsetMs: round(clockOffsetMs, 3),
			bus: 'redis',
			maxBufferedBytes: defaultLimits.maxBufferedBytes,
			note: 'the server, the clients (one child process each), this writer, PostgreSQL and Redis share the CPUs'
		},
		memory,
		// Less noisy than the ratio of throughputs when the machine is busy with other work.
		serverCpuPerDeliveryVsBaseline: round(cpuRatio, 2),
		baseline: {
			what: "a bare ws WebSocketServer broadcasting the same frames (serialized once) to the same clients, each commit's frames in one write per socket (cork/uncork)",
			throughput: throughputOf(raw.throughput),
			steady: { measured: 'send-to-client', ...latencyOf(raw.steady) },
			slowClient: rawSlow,
			allRounds: {
				deliveredPerSecond: rounds.raw.throughput.map((r) => r.deliveredPerSecond),
				steadyP99Ms: rounds.raw.steady.map((r) => r.latencyMs.p99)
			}
		},
		realtime: {
			throughput: throughputOf(realtime.throughput),
			steady: { measured: 'commit-to-client', ...latencyOf(realtime.steady) },
			slowClient: realtimeSlow,
			allRounds: {
				deliveredPerSecond: rounds.realtime.throughput.map((r) => r.deliveredPerSecond),
				steadyP99Ms: rounds.realtime.steady.map((r) => r.latencyMs.p99),
				note: `the server re-checks each connection about every ${defaultLimits.revalidateMs / 1000} s, spread over that time`
			}
		}
	};
	const met = (row: Result) => (row.met ? 'met' : 'NOT MET');
	const row = (label: string, baseline: string | number, ours: string | number, note = '') =>
		console.log(
			`  ${label.padEnd(30)}${String(baseline).padStart(12)}${String(ours).padStart(14)}  ${note}`
		);
	console.log(
		`\nrealtime fan-out: ${subscribers} subscribers, ${dataBytes}-byte event data (${frameBytes}-byte frames), best of 2 rounds`
	);
	row('', 'raw ws', 'realtime');
	row(
		'delivered events/s',
		raw.throughput.deliveredPerSecond,
		realtime.throughput.deliveredPerSecond,
		`ratio ${targets.throughput.ratio?.toFixed(2)} (≥ 0.5): ${met(targets.throughput)}`
	);
	row(
		'server CPU µs per delivery',
		raw.throughput.serverCpuMicrosPerDelivery,
		realtime.throughput.serverCpuMicrosPerDelivery
	);
	row(
		`p50 at ${steadyRate} events/s (ms)`,
		raw.steady.latencyMs.p50,
		realtime.steady.latencyMs.p50
	);
	row(
		`p99 at ${steadyRate} events/s (ms)`,
		raw.steady.latencyMs.p99,
		realtime.steady.latencyMs.p99,
		`(< 50 ms): ${met(targets.latency)}; rounds: ${rounds.realtime.steady.map((r) => r.latencyMs.p99).join(', ')}`
	);
	row(
		'slow client: queue peak (MiB)',
		rawSlow.slowQueuePeakMiB,
		realtimeSlow.slowQueuePeakMiB,
		`closed with ${realtimeSlow.closeCodeReceived}: ${met(targets.queue)}, ${met(targets.closed)}`
	);
	await finish(report('realtime', Object.values(targets), details));
} finally {
	clientsProcess?.kill('SIGTERM');
	// The server child exits once it has closed (when asked to); it is stopped if it has not in 5 s.
	if (serverProcess && serverProcess.exitCode === null) {
		const server = serverProcess;
		await Promise.race([new Promise((resolve) => server.once('exit', resolve)), sleep(5_000)]);
		server.kill('SIGTERM');
	}
	await bus?.close();
	await database?.close();
	await admin.unsafe(`drop database if exists "${name}" with (force)`);
	await admin.end();
}
