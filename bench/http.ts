// Guarded outbound HTTP overhead: one local node:http server answers the guarded client and, as the
// baseline, plain node:http requests through an http.Agent with the guarded client's keep-alive
// settings but without its checks (URL, allow list, DNS resolution and address ranges, pinning,
// limits), by IP address and by name (system resolver), in the same run. Sequential requests over
// keep-alive connections, so the figures are per-request latency.
// Target: the guarded client adds under 1 ms at p50 (an address check, a pinned lookup, no proxy).
// Run: `npm run bench`, or alone: node --experimental-strip-types bench/http.ts
// (writes bench/results/http.json).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createGuardedHttp } from '../src/lib/server/outbound/guarded-http.ts';
import { startTestServer } from '../src/lib/server/outbound/test-server.ts';
import { finish, report, result, round } from './report.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const warmup = 200;
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
// As createGuardedHttp makes its own (keep-alive, Node's defaults otherwise).
const plainAgent = new http.Agent({ keepAlive: true });

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

/** A GET through the plain agent with the headers the guarded client sends; the body read alike. */
const viaPlainHttp = (url: string) => () =>
	new Promise<number>((resolve, reject) => {
		const request = http.request(
			url,
			{ agent: plainAgent, headers: { accept: '*/*', 'user-agent': 'AWE' } },
			(response) => {
				const chunks: Buffer[] = [];
				response.on('data', (chunk: Buffer) => chunks.push(chunk));
				response.on('end', () => resolve(Buffer.concat(chunks).length));
				response.on('error', reject);
			}
		);
		request.on('error', reject);
		request.end();
	});
const viaGuarded = (url: string) => async () => (await guarded.request({ url })).body.length;

const scenarios = {
	plainByAddress: viaPlainHttp(byAddress),
	guardedByAddress: viaGuarded(byAddress),
	plainByName: viaPlainHttp(byName),
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
	const measured = Object.fromEntries(
		(Object.keys(scenarios) as Scenario[]).map((name) => [name, best(name)])
	) as Record<Scenario, Measurement>;
	const overhead = (how: string, plain: Measurement, checked: Measurement) =>
		result({
			metric: `guarded GET by ${how}, p50`,
			value: checked.p50,
			unit: 'ms',
			baseline: { value: plain.p50, is: `node:http GET by ${how}, same keep-alive agent settings` },
			target: { of: 'overhead', op: '<', value: 1 }
		});
	const rounded = (m: Measurement) => ({
		p50: round(m.p50),
		p99: round(m.p99),
		rps: Math.round(m.rps)
	});
	await finish(
		report(
			'http',
			[
				overhead('address', measured.plainByAddress, measured.guardedByAddress),
				overhead('name', measured.plainByName, measured.guardedByName)
			],
			{
				requests,
				responseBytes: payload.length,
				measured:
					'sequential GETs over keep-alive connections, best of 2 interleaved rounds (by p50)',
				...Object.fromEntries(
					(Object.keys(measured) as Scenario[]).map((name) => [name, rounded(measured[name])])
				)
			}
		)
	);
} finally {
	guarded.close();
	plainAgent.destroy();
	await server.close();
}
