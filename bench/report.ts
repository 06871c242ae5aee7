// What every benchmark records: its results, each with the baseline measured beside it in the same
// run, the target as data and whether it was met, computed here and nowhere else. A benchmark
// run alone writes bench/results/<name>.json and prints its table (exit code 1 when a target was
// missed); run by bench/run.ts, it hands its report to the runner, which writes the files and prints
// one table for all.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type Comparison = '<' | '<=' | '>' | '>=' | '==';

export interface Target {
	/** What is bounded: the value, value ÷ baseline, or value − baseline (the overhead). */
	of: 'value' | 'ratio' | 'overhead';
	op: Comparison;
	value: number;
}

export interface Result {
	metric: string;
	value: number;
	unit: string;
	/** The same thing without what is measured, in the same run and the same unit; null when none. */
	baseline: number | null;
	/** What the baseline is, in words. */
	baselineIs: string | null;
	/** value ÷ baseline. */
	ratio: number | null;
	/** Null for a figure that is reported but has no target. */
	target: Target | null;
	met: boolean | null;
}

export interface Report {
	benchmark: string;
	at: string;
	command: string;
	machine: {
		cpus: number;
		cpuModel: string | undefined;
		memoryGiB: number;
		node: string;
		/** 1-minute load average when the benchmark started and ended: the machine is shared. */
		loadAverage: { atStart: number; atEnd: number };
	};
	results: Result[];
	/** Everything else the benchmark measured, for reading. */
	details: Record<string, unknown>;
}

export function round(value: number, digits = 3): number {
	return Number(value.toFixed(digits));
}

/** A result's numbers as stored, to 5 significant digits: what `met` is computed from. */
function stored(value: number): number {
	return Number.isFinite(value) ? Number(value.toPrecision(5)) : value;
}

const compare: Record<Comparison, (a: number, b: number) => boolean> = {
	'<': (a, b) => a < b,
	'<=': (a, b) => a <= b,
	'>': (a, b) => a > b,
	'>=': (a, b) => a >= b,
	'==': (a, b) => a === b
};

export function isMet(target: Target, value: number, baseline: number | null): boolean {
	let measured = value;
	if (target.of !== 'value') {
		if (baseline === null) throw new Error(`a target of the ${target.of} needs a baseline`);
		measured = stored(target.of === 'ratio' ? value / baseline : value - baseline);
	}
	return Number.isFinite(measured) && compare[target.op](measured, target.value);
}

export function result(input: {
	metric: string;
	value: number;
	unit: string;
	baseline?: { value: number; is: string };
	target?: Target;
}): Result {
	const value = stored(input.value);
	const baseline = input.baseline ? stored(input.baseline.value) : null;
	const target = input.target ?? null;
	return {
		metric: input.metric,
		value,
		unit: input.unit,
		baseline,
		baselineIs: input.baseline?.is ?? null,
		ratio: baseline === null || baseline === 0 ? null : stored(value / baseline),
		target,
		met: target === null ? null : isMet(target, value, baseline)
	};
}

const loadAtStart = os.loadavg()[0] ?? 0;

export function report(
	benchmark: string,
	results: Result[],
	details: Record<string, unknown>
): Report {
	return {
		benchmark,
		at: new Date().toISOString(),
		command: process.send
			? 'npm run bench'
			: `node --experimental-strip-types bench/${benchmark}.ts`,
		machine: {
			cpus: os.availableParallelism(),
			cpuModel: os.cpus()[0]?.model,
			memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
			node: process.version,
			loadAverage: { atStart: round(loadAtStart, 2), atEnd: round(os.loadavg()[0] ?? 0, 2) }
		},
		results,
		details
	};
}

/** A message from a benchmark to bench/run.ts. */
export interface ReportMessage {
	type: 'bench-report';
	report: Report;
}

export function isReportMessage(message: unknown): message is ReportMessage {
	return (
		typeof message === 'object' &&
		message !== null &&
		(message as { type?: unknown }).type === 'bench-report'
	);
}

/**
 * The end of a benchmark: to the runner when it was started by one, else written to
 * bench/results/<name>.json and printed, with exit code 1 when a target was missed.
 */
export async function finish(finished: Report): Promise<void> {
	if (process.send) {
		const send = process.send.bind(process);
		await new Promise<void>((resolve, reject) =>
			send(
				{ type: 'bench-report', report: finished } satisfies ReportMessage,
				undefined,
				{},
				(error) => (error ? reject(error) : resolve())
			)
		);
		return;
	}
	const file = await writeReport(finished);
	console.log(`\n${summaryTable([finished])}\n\nwritten to ${path.relative(process.cwd(), file)}`);
	if (missed([finished]).length > 0) process.exitCode = 1;
}

export const resultsFolder = path.join(import.meta.dirname, 'results');

export async function writeReport(finished: Report): Promise<string> {
	await mkdir(resultsFolder, { recursive: true });
	const file = path.join(resultsFolder, `${finished.benchmark}.json`);
	await writeFile(file, JSON.stringify(finished, null, 2) + '\n');
	return file;
}

/** The results whose target was not met, as "benchmark: metric". */
export function missed(reports: Report[]): string[] {
	return reports.flatMap((one) =>
		one.results.filter((row) => row.met === false).map((row) => `${one.benchmark}: ${row.metric}`)
	);
}

const symbols: Record<Comparison, string> = { '<': '<', '<=': '≤', '>': '>', '>=': '≥', '==': '=' };

export function describeTarget(target: Target | null, unit: string): string {
	if (target === null) return 'none';
	const bound = `${symbols[target.op]} ${target.value}`;
	if (target.of === 'ratio') return `${bound}× baseline`;
	if (target.of === 'overhead') return `${bound} ${unit} over baseline`;
	return `${bound} ${unit}`;
}

function number(value: number | null, unit: string): string {
	if (value === null) return '—';
	if (unit === 'code') return String(value);
	const magnitude = Math.abs(value);
	if (magnitude > 0 && magnitude < 1) return value.toPrecision(3);
	const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2;
	return value.toLocaleString('en-US', {
		minimumFractionDigits: digits,
		maximumFractionDigits: digits
	});
}

/** benchmark | metric | value | baseline | ratio | target | met, one line per result. */
export function summaryTable(reports: Report[]): string {
	const header = ['benchmark', 'metric', 'value', 'baseline', 'ratio', 'target', 'met'];
	const lines = reports.flatMap((one) =>
		one.results.map((row) => [
			one.benchmark,
			row.metric,
			`${number(row.value, row.unit)} ${row.unit}`,
			row.baseline === null ? '—' : `${number(row.baseline, row.unit)} ${row.unit}`,
			row.ratio === null ? '—' : `${number(row.ratio, '')}×`,
			describeTarget(row.target, row.unit),
			row.met === null ? '—' : row.met ? 'yes' : 'NO'
		])
	);
	const widths = header.map((title, column) =>
		Math.max(title.length, ...lines.map((line) => line[column]?.length ?? 0))
	);
	const numeric = new Set([2, 3, 4]);
	const format = (cells: string[]) =>
		cells
			.map((cell, column) =>
				numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)
			)
			.join('  ')
			.trimEnd();
	return [
		format(header),
		widths.map((width) => '─'.repeat(width)).join('  '),
		...lines.map(format)
	].join('\n');
}
