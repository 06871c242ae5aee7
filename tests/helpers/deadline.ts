// Deadlines for tests and benchmarks that stretch with the machine: a wait that takes 5 s on a quiet
// machine may take 20 s on two cores shared with other work, and should fail only when something is
// wrong. No vitest import here, so benchmarks use it too.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** The most the load average stretches a deadline; TEST_TIMEOUT_SCALE may set any factor. */
export const maxLoadScale = 4;

export interface MachineLoad {
	/** The 1-minute load average. */
	load: number;
	cpus: number;
}

export function machineLoad(): MachineLoad {
	return { load: os.loadavg()[0] ?? 0, cpus: os.availableParallelism() };
}

/** TEST_TIMEOUT_SCALE as a number, null when unset; a clear error when it is no positive number. */
export function configuredScale(env: NodeJS.ProcessEnv = process.env): number | null {
	const configured = env.TEST_TIMEOUT_SCALE;
	if (configured === undefined || configured.trim() === '') return null;
	const value = Number(configured);
	if (!Number.isFinite(value) || value <= 0) {
		throw new Error(
			`TEST_TIMEOUT_SCALE must be a positive number (e.g. 2 to double every deadline), not "${configured}".`
		);
	}
	return value;
}

/**
 * How much longer than on a quiet machine a wait may take now: TEST_TIMEOUT_SCALE when set, else
 * the 1-minute load average per core, from 1 up to `maxLoadScale`.
 */
export function timeScale(
	env: NodeJS.ProcessEnv = process.env,
	machine: MachineLoad = machineLoad()
): number {
	const configured = configuredScale(env);
	if (configured !== null) return configured;
	const perCore = machine.load / Math.max(1, machine.cpus);
	return Math.min(maxLoadScale, Math.max(1, perCore));
}

/** `baseMs` stretched for the machine as it is now. */
export function scaled(baseMs: number, env: NodeJS.ProcessEnv = process.env): number {
	return Math.ceil(baseMs * timeScale(env));
}

/**
 * The most `baseMs` can be stretched to: for a vitest hook or test timeout that must outlast a
 * `waitUntil` inside it, so that the wait's own error (what it waited for, the output) is the one seen.
 */
export function longestScaled(baseMs: number, env: NodeJS.ProcessEnv = process.env): number {
	return Math.ceil(baseMs * (configuredScale(env) ?? maxLoadScale));
}

export interface WaitOptions {
	/** What is awaited, as the error should say it: "the app server to answer GET /readyz". */
	what: string;
	/** The deadline on a quiet machine; stretched by `timeScale()`, read again on every try. */
	baseMs: number;
	/** Pause between tries (default 50 ms). */
	intervalMs?: number;
	/** A reason to give up at once (the process exited), or null to keep waiting. */
	failure?: () => string | null;
	/** What else the error should tell: the process's output, the last value seen. */
	context?: () => string;
	env?: NodeJS.ProcessEnv;
}

export class WaitTimeoutError extends Error {
	override name = 'WaitTimeoutError';
}

/**
 * Calls `check` until it returns a truthy value and returns that value. Gives up when `failure`
 * names a reason, or when the scaled deadline passes; the error says what was awaited, for how
 * long, how the deadline was scaled and `context()`.
 */
export async function waitUntil<T>(
	check: () => T | Promise<T>,
	options: WaitOptions
): Promise<NonNullable<T>> {
	const env = options.env ?? process.env;
	const started = performance.now();
	// The scale only grows during a wait: load that rose while waiting still counts.
	let scale = timeScale(env);
	for (;;) {
		const value = await check();
		if (value) return value;
		const elapsed = performance.now() - started;
		const failure = options.failure?.();
		if (failure) throw new WaitTimeoutError(describe(`${failure} after ${seconds(elapsed)}`));
		scale = Math.max(scale, timeScale(env));
		if (elapsed > options.baseMs * scale) {
			const machine = machineLoad();
			const how =
				configuredScale(env) !== null
					? `TEST_TIMEOUT_SCALE=${scale}`
					: `load ${machine.load.toFixed(1)} on ${machine.cpus} cores; TEST_TIMEOUT_SCALE sets the factor`;
			throw new WaitTimeoutError(
				describe(
					`gave up waiting after ${seconds(elapsed)} (deadline ${seconds(options.baseMs)} × ${scale.toFixed(1)}: ${how})`
				)
			);
		}
		await sleep(options.intervalMs ?? 50);
	}

	function describe(reason: string): string {
		const context = options.context?.().trim();
		return `${options.what}: ${reason}${context ? `\n${context}` : ''}`;
	}
}

function seconds(ms: number): string {
	return `${(ms / 1000).toFixed(1)} s`;
}

/** The last `maxChars` of a process's output, for an error message. */
export function outputTail(output: string, maxChars = 4000): string {
	if (output.trim() === '') return '(no output)';
	return output.length <= maxChars
		? output
		: `… (${output.length - maxChars} characters before)\n${output.slice(-maxChars)}`;
}
