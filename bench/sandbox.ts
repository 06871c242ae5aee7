// Code sandbox latency: an execution in a fresh runner (process start, QuickJS load, run), then warm
// executions one after another, then trivial executions per second through a pool of two. Beside each,
// the same function run in this process (V8, no isolation) as the baseline, measured in the same run.
// No target is set for these yet (README, docs/sandbox.md): they are reported, not judged.
// Run: `npm run bench`, or alone: node --experimental-strip-types bench/sandbox.ts
// (writes bench/results/sandbox.json).
import { performance } from 'node:perf_hooks';
import { createSandboxPool, type SandboxPool } from '../src/lib/server/sandbox/pool.ts';
import { finish, report, result, round } from './report.ts';

const warmRuns = Number(process.env.BENCH_RUNS ?? 1000);
const throughputRuns = warmRuns * 2;
const coldStarts = 5;
const poolSize = 2;

const workloads = {
	trivial: 'return { sum: input.a + data.b }',
	compute: 'let total = 0; for (let i = 0; i < 100000; i++) total += i % 7; return total'
};

type Percentiles = { p50: number; p99: number };

function percentiles(times: number[]): Percentiles {
	const sorted = [...times].sort((a, b) => a - b);
	const at = (q: number) =>
		sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
	return { p50: at(0.5), p99: at(0.99) };
}

async function sandboxed(pool: SandboxPool, source: string) {
	const result = await pool.run({ source, input: { a: 1 }, data: { b: 2 } });
	if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
}

const AsyncFunction = (async () => {}).constructor as new (
	...args: string[]
) => (input: unknown, data: unknown) => Promise<unknown>;

/** The baseline: compiled once, as a host would cache it; output made JSON like the sandbox's. */
function inHost(source: string) {
	const run = new AsyncFunction('input', 'data', source);
	return async () => JSON.parse(JSON.stringify(await run({ a: 1 }, { b: 2 })));
}

async function timeEach(count: number, execute: () => Promise<unknown>): Promise<Percentiles> {
	const times: number[] = [];
	for (let i = 0; i < count; i++) {
		const started = performance.now();
		await execute();
		times.push(performance.now() - started);
	}
	return percentiles(times);
}

async function perSecond(count: number, concurrency: number, execute: () => Promise<unknown>) {
	let next = 0;
	const started = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next++ < count) await execute();
		})
	);
	return count / ((performance.now() - started) / 1000);
}

// A fresh runner: from creating the pool (process start, QuickJS load) to the first result.
const cold: number[] = [];
for (let i = 0; i < coldStarts; i++) {
	const started = performance.now();
	const pool = createSandboxPool({ size: 1 });
	await sandboxed(pool, workloads.trivial);
	cold.push(performance.now() - started);
	await pool.close();
}

const pool = createSandboxPool({ size: poolSize });
const results: Record<
	string,
	{ sandbox: Percentiles & { perSecond: number }; host: Percentiles & { perSecond: number } }
> = {};
try {
	for (const [name, source] of Object.entries(workloads)) {
		const runs = name === 'trivial' ? warmRuns : Math.ceil(warmRuns / 10);
		const host = inHost(source);
		await timeEach(50, () => sandboxed(pool, source));
		await timeEach(50, host);
		const sandboxLatency = await timeEach(runs, () => sandboxed(pool, source));
		const hostLatency = await timeEach(runs, host);
		const total = name === 'trivial' ? throughputRuns : Math.ceil(throughputRuns / 10);
		results[name] = {
			sandbox: {
				...sandboxLatency,
				perSecond: await perSecond(total, poolSize * 2, () => sandboxed(pool, source))
			},
			host: { ...hostLatency, perSecond: await perSecond(total, poolSize * 2, host) }
		};
	}
} finally {
	await pool.close();
}

const coldLatency = percentiles(cold);
const hostBaseline = (what: string) => `the same ${what} function in this process (no isolation)`;
const rounded = (figures: Percentiles & { perSecond: number }) => ({
	p50: round(figures.p50, 4),
	p99: round(figures.p99, 4),
	perSecond: Math.round(figures.perSecond)
});
await finish(
	report(
		'sandbox',
		[
			result({
				metric: 'first execution in a fresh runner, p50',
				value: coldLatency.p50,
				unit: 'ms'
			}),
			...Object.entries(results).map(([name, { sandbox, host }]) =>
				result({
					metric: `${name} function, warm, p50`,
					value: sandbox.p50,
					unit: 'ms',
					baseline: { value: host.p50, is: hostBaseline(name) }
				})
			),
			result({
				metric: `trivial executions/s, pool of ${poolSize}`,
				value: results.trivial?.sandbox.perSecond ?? NaN,
				unit: '/s',
				baseline: {
					value: results.trivial?.host.perSecond ?? NaN,
					is: hostBaseline('trivial')
				}
			})
		],
		{
			poolSize,
			warmRuns,
			coldStarts,
			workloads,
			firstExecutionInFreshRunnerMs: { p50: round(coldLatency.p50), p99: round(coldLatency.p99) },
			...Object.fromEntries(
				Object.entries(results).map(([name, { sandbox, host }]) => [
					name,
					{ sandbox: rounded(sandbox), host: rounded(host) }
				])
			)
		}
	)
);
