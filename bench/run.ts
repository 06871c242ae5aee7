// `npm run bench [-- name …]`: runs each benchmark in a child process of its own, one after another,
// writes the report each hands back to bench/results/<name>.json, prints one summary table and exits
// with 1 when a target was missed or a benchmark failed (a failed one leaves its previous results file
// as it was). Each benchmark also runs alone: node --experimental-strip-types bench/<name>.ts
import path from 'node:path';
import { longestScaled } from '../tests/helpers/deadline.ts';
import { summaryTable, writeReport } from './report.ts';
import { runBenchmarks } from './runner.ts';

const benchmarks = ['auth-overhead', 'engine', 'http', 'sandbox', 'realtime', 'webhook', 'agents'];
/** The longest one benchmark may take on a quiet machine; stretched on a busy one. */
const timeLimitBaseMs = 10 * 60_000;

const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !benchmarks.includes(name));
if (unknown.length > 0) {
	console.error(
		`Unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Known: ${benchmarks.join(', ')}.`
	);
	process.exit(2);
}

const summary = await runBenchmarks(
	(chosen.length > 0 ? chosen : benchmarks).map((benchmark) => ({
		benchmark,
		script: path.join(import.meta.dirname, `${benchmark}.ts`)
	})),
	{
		timeLimitMs: longestScaled(timeLimitBaseMs),
		onReport: async (report) => {
			await writeReport(report);
		}
	}
);
console.log(`\n${summaryTable(summary.reports)}\n`);
for (const { benchmark, failure } of summary.failed) console.log(`FAILED ${benchmark}: ${failure}`);
for (const miss of summary.misses) console.log(`MISSED ${miss}`);
console.log(
	`${summary.reports.length} benchmark(s) reported to bench/results/, ${summary.misses.length} target(s) missed, ${summary.failed.length} benchmark(s) failed`
);
process.exitCode = summary.exitCode;
