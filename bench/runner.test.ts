import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { longestScaled, scaled } from '../tests/helpers/deadline.ts';
import type { Report } from './report.ts';
import { runBenchmarks } from './runner.ts';

const fixture = (name: string) => ({
	benchmark: name,
	script: path.join(import.meta.dirname, 'fixtures', `${name}.ts`)
});

describe('runBenchmarks', () => {
	it('collects each report and exits with 0 when every target is met', async () => {
		const onReport = vi.fn<(report: Report) => Promise<void>>(async () => {});
		const summary = await runBenchmarks([fixture('meets')], { timeLimitMs: 60_000, onReport });
		expect(summary.exitCode).toBe(0);
		expect(summary.misses).toEqual([]);
		expect(onReport).toHaveBeenCalledOnce();
		expect(summary.reports[0]?.results[0]).toMatchObject({ value: 2, met: true });
	});

	it('exits with 1 when a target is missed, and names it', async () => {
		const summary = await runBenchmarks([fixture('meets'), fixture('misses')], {
			timeLimitMs: 60_000
		});
		expect(summary.exitCode).toBe(1);
		expect(summary.misses).toEqual(['fixture-misses: latency p50']);
		expect(summary.reports.map((report) => report.benchmark)).toEqual([
			'fixture-meets',
			'fixture-misses'
		]);
	});

	it(
		'exits with 1 when a benchmark fails, goes on with the others, and writes nothing for it',
		{
			timeout: longestScaled(60_000)
		},
		async () => {
			const onReport = vi.fn<(report: Report) => Promise<void>>(async () => {});
			const timeLimitMs = scaled(5_000);
			const summary = await runBenchmarks(
				[fixture('crashes'), fixture('silent'), fixture('hangs'), fixture('meets')],
				{ timeLimitMs, killGraceMs: 1_000, onReport }
			);
			expect(summary.exitCode).toBe(1);
			expect(summary.failed.map(({ benchmark, failure }) => ({ benchmark, failure }))).toEqual([
				{ benchmark: 'crashes', failure: 'exited with 1' },
				{ benchmark: 'silent', failure: 'exited without a report' },
				{
					benchmark: 'hangs',
					failure: `stopped after its time limit of ${(timeLimitMs / 1000).toFixed(0)} s`
				}
			]);
			expect(onReport).toHaveBeenCalledOnce();
			expect(summary.reports.map((report) => report.benchmark)).toEqual(['fixture-meets']);
		}
	);
});
