// Runs benchmarks in child processes of their own, one after another, and collects the report each
// hands back (bench/report.ts `finish`). bench/run.ts is the command; this part is tested.
import { fork } from 'node:child_process';
import { isReportMessage, missed, type Report } from './report.ts';

export interface Outcome {
	benchmark: string;
	report: Report | null;
	/** Why there is no report: its exit code or signal, or the time limit; null when there is one. */
	failure: string | null;
}

export interface RunOptions {
	/** How long one benchmark may take before it is stopped (SIGTERM, then SIGKILL). */
	timeLimitMs: number;
	killGraceMs?: number;
	/** Called with each report as it arrives (the command writes it to bench/results/). */
	onReport?: (report: Report) => Promise<void>;
}

export function runBenchmark(
	benchmark: string,
	script: string,
	{ timeLimitMs, killGraceMs = 10_000 }: RunOptions
): Promise<Outcome> {
	return new Promise((resolve) => {
		let received: Report | null = null;
		let timedOut = false;
		const child = fork(script, [], {
			execArgv: ['--experimental-strip-types', '--no-warnings=ExperimentalWarning'],
			stdio: ['ignore', 'inherit', 'inherit', 'ipc']
		});
		child.on('message', (message) => {
			if (isReportMessage(message)) received = message.report;
		});
		// SIGTERM first: it lets a benchmark stop its own children (tests/helpers/processes.ts).
		const timer = setTimeout(() => {
			timedOut = true;
			child.kill('SIGTERM');
			setTimeout(() => child.kill('SIGKILL'), killGraceMs).unref();
		}, timeLimitMs);
		child.on('exit', (code, signal) => {
			clearTimeout(timer);
			const report: Report | null = received;
			let failure: string | null = null;
			if (timedOut)
				failure = `stopped after its time limit of ${(timeLimitMs / 1000).toFixed(0)} s`;
			else if (code !== 0) failure = `exited with ${code ?? signal}`;
			else if (report === null) failure = 'exited without a report';
			resolve({ benchmark, report: failure === null ? report : null, failure });
		});
	});
}

export interface Summary {
	outcomes: Outcome[];
	reports: Report[];
	/** "benchmark: metric" for each result whose target was not met. */
	misses: string[];
	failed: Outcome[];
	/** 1 when a target was missed or a benchmark failed. */
	exitCode: number;
}

export async function runBenchmarks(
	scripts: { benchmark: string; script: string }[],
	options: RunOptions
): Promise<Summary> {
	const outcomes: Outcome[] = [];
	for (const { benchmark, script } of scripts) {
		console.log(`\n=== ${benchmark}`);
		const outcome = await runBenchmark(benchmark, script, options);
		if (outcome.report) await options.onReport?.(outcome.report);
		outcomes.push(outcome);
	}
	const reports = outcomes.flatMap((outcome) => (outcome.report ? [outcome.report] : []));
	const failed = outcomes.filter((outcome) => outcome.failure !== null);
	const misses = missed(reports);
	return {
		outcomes,
		reports,
		misses,
		failed,
		exitCode: misses.length > 0 || failed.length > 0 ? 1 : 0
	};
}
