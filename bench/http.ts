// Guarded outbound HTTP overhead: one local node:http server answers plain fetch() and the guarded
// client in the same run, by IP address and by name (system resolver); we report each and the gap.
// Sequential requests over keep-alive connections, so the figures are per-request latency.
// Target: the guarded client adds under 1 ms at p50 (an address check, a pinned lookup, no proxy).
// Run: node --experimental-strip-types --no-warnings=ExperimentalWarning bench/http.ts
// Results are printed and written to bench/results/http.json.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGuardedHttp } from '../src/lib/server/outbound/guarded-http.ts';
import { startTestServer } from '../src/lib/server/outbound/test-server.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const warmup = 200;
const projectRoot = path.resolve(import.meta.dirname, '..');
const payload = JSON.stringify({ ok: true, items: Array.from({ length: 8 }, (_, i) => i) });

const server = await startTestServer((_request, response) => {
	response.setHeader('content-type', 'application/json');
	response.end(payload);
});
const byAddress = `http://127.0.0.1:${server.port}/`;
const byName = `http://localhost:${server.port}/`;
const guarded = createGuardedHttp({
	allow: [
		{ host: '127.0.0.1', port: server.port },
		{ host: 'localhost', port: server.port }
	]
});

type Measurement = { p50: number; p99: number; rps: number };

async function measure(send: () => Promise<number>): Promise<Measurement> {
	const times: number[] = [];
	for (let i = 0; i < warmup + requests; i++) {
		const started = performance.now();
		const bytes = await send();
		if (bytes !== payload.length) throw new Error(`got ${bytes} bytes, expected ${payload.length}`);
		if (i >= warmup) times.push(performance.now() - started);
	}
	times.sort((a, b) => a - b);
	const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
	return {
		p50: at(0.5),
		p99: at(0.99),
		rps: 1000 / (times.reduce((a, b) => a + b, 0) / times.length)
	};
}

const viaFetch = (url: string) => async () => (await (await fetch(url)).arrayBuffer()).byteLength;
const viaGuarded = (url: string) => async () => (await guarded.request({ url })).body.length;

const scenarios = {
	fetchByAddress: viaFetch(byAddress),
	guardedByAddress: viaGuarded(byAddress),
	fetchByName: viaFetch(byName),
	guardedByName: viaGuarded(byName)
};
type Scenario = keyof typeof scenarios;

try {
	// Interleave two rounds so drift (JIT, GC, the other load on the machine) affects all alike.
	const rounds = new Map<Scenario, Measurement[]>();
	for (let round = 0; round < 2; round++) {
		for (const [name, send] of Object.entries(scenarios) as [Scenario, () => Promise<number>][]) {
			rounds.set(name, [...(rounds.get(name) ?? []), await measure(send)]);
		}
	}
	const best = (name: Scenario) =>
		(rounds.get(name) ?? []).reduce((a, b) => (b.p50 < a.p50 ? b : a));
	const results = Object.fromEntries(
		(Object.keys(scenarios) as Scenario[]).map((name) => [name, best(name)])
	) as Record<Scenario, Measurement>;
	const gapByAddress = results.guardedByAddress.p50 - results.fetchByAddress.p50;
	const gapByName = results.guardedByName.p50 - results.fetchByName.p50;

	const fmt = (n: number) => n.toFixed(3).padStart(7);
	const line = (label: string, m: Measurement) =>
		console.log(
			`  ${label.padEnd(30)} p50 ${fmt(m.p50)} ms  p99 ${fmt(m.p99)} ms  ${m.rps.toFixed(0)} req/s`
		);
	console.log(`\nguarded HTTP overhead (${requests} sequential GETs per scenario, keep-alive)`);
	line('fetch        http://127.0.0.1', results.fetchByAddress);
	line('guarded      http://127.0.0.1', results.guardedByAddress);
	line('fetch        http://localhost', results.fetchByName);
	line('guarded      http://localhost', results.guardedByName);
	console.log(
		`  overhead at p50: ${gapByAddress.toFixed(3)} ms by address, ${gapByName.toFixed(3)} ms by name (target < 1 ms): ${Math.max(gapByAddress, gapByName) < 1 ? 'MET' : 'NOT MET'}`
	);

	await mkdir(path.join(projectRoot, 'bench/results'), { recursive: true });
	await writeFile(
		path.join(projectRoot, 'bench/results/http.json'),
		JSON.stringify(
			{
				at: new Date().toISOString(),
				machine: { cpus: os.cpus().length, node: process.version },
				command: 'node --experimental-strip-types --no-warnings=ExperimentalWarning bench/http.ts',
				requests,
				responseBytes: payload.length,
				...results,
				overheadP50Ms: {
					byAddress: Number(gapByAddress.toFixed(3)),
					byName: Number(gapByName.toFixed(3))
				},
				target: 'guarded overhead at p50 < 1 ms'
			},
			null,
			2
		) + '\n'
	);
} finally {
	guarded.close();
	await server.close();
}
