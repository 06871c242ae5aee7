// Child processes that tests and benchmarks start (the app server, workers), and the guarantee that
// they are stopped: each is registered when spawned and stopped by whoever started it, by
// `stopStartedProcesses()` (an afterAll of every test file: tests/setup/stop-processes.ts) when a
// failed or timed-out hook left it behind, and, failing those, when this process exits or is
// signalled. No vitest import here, so benchmarks use it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { outputTail, scaled, waitUntil } from './deadline.ts';

export interface StartedProcess {
	readonly child: ChildProcess;
	readonly pid: number;
	/** Its stdout and stderr so far. */
	output(): string;
	/** Resolves with the exit code (null when a signal ended it). */
	readonly exited: Promise<number | null>;
	/** SIGTERM, then SIGKILL if it is still running after `graceMs` (5 s, scaled); then its cleanup. */
	stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
	/** How errors name it: "the app server", "worker". */
	name: string;
	env: Record<string, string>;
	cwd?: string;
	/** Waited for with a deadline that scales with the machine; without it, started is enough. */
	ready?: {
		/** What the wait is for, as the error should say it. */
		what: string;
		baseMs: number;
		check: (output: string) => boolean | Promise<boolean>;
		intervalMs?: number;
	};
	/** Runs once the process has exited, however it was stopped: drop its database, remove its files. */
	cleanup?: () => Promise<void>;
}

/** How long a stopped process may take to exit on SIGTERM before it gets SIGKILL (quiet machine). */
const graceBaseMs = 5_000;

const running = new Set<StartedProcess>();

/** Pids of the processes started here and not yet stopped. */
export function startedPids(): number[] {
	return [...running].map((started) => started.pid);
}

/**
 * Spawns `command` with exactly `env` (nothing else of this process's environment), registers it,
 * and waits until `ready.check(output)` holds. When it exits first, or the deadline passes, it is
 * stopped and the error says what was awaited, with the tail of its output.
 */
export async function startProcess(
	command: string,
	args: string[],
	options: StartOptions
): Promise<StartedProcess> {
	installLastResortHandlers();
	const child = spawn(command, args, {
		cwd: options.cwd,
		env: options.env,
		stdio: ['ignore', 'pipe', 'pipe']
	});
	let output = '';
	child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
	const spawned = new Promise<void>((resolve, reject) => {
		child.once('spawn', resolve);
		child.once('error', reject);
	});
	// 'exit', not 'close': a grandchild holding the pipes open must not keep the stop waiting.
	const exited = new Promise<number | null>((resolve) => {
		child.once('exit', (code) => resolve(code));
		// A process that could not be spawned never exits.
		child.once('error', () => resolve(null));
	});
	let stopping: Promise<void> | null = null;
	const started: StartedProcess = {
		child,
		pid: child.pid ?? -1,
		output: () => output,
		exited,
		stop(graceMs = scaled(graceBaseMs)) {
			stopping ??= (async () => {
				await terminate(child, exited, graceMs);
				running.delete(started);
				await options.cleanup?.();
			})();
			return stopping;
		}
	};
	// Registered at once: a hook that times out from here on still leaves it to be stopped.
	running.add(started);
	try {
		await spawned;
	} catch (error) {
		running.delete(started);
		await options.cleanup?.();
		throw new Error(`${options.name} could not be started: ${String(error)}`, { cause: error });
	}
	if (!options.ready) return started;
	const { ready } = options;
	try {
		await waitUntil(() => ready.check(output), {
			what: `${options.name} (pid ${started.pid}): ${ready.what}`,
			baseMs: ready.baseMs,
			intervalMs: ready.intervalMs,
			failure: () =>
				child.exitCode !== null || child.signalCode !== null
					? `it exited (${child.exitCode ?? child.signalCode})`
					: null,
			context: () => `its output:\n${outputTail(output)}`
		});
	} catch (error) {
		await started.stop();
		throw error;
	}
	return started;
}

/** A TCP port on 127.0.0.1 that nothing listens on now, for a process to start on. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
		});
	});
}

/** Stops every process started here that is still registered (SIGTERM, then SIGKILL). */
export async function stopStartedProcesses(graceMs = scaled(graceBaseMs)): Promise<void> {
	await Promise.all([...running].map((started) => started.stop(graceMs)));
}

async function terminate(
	child: ChildProcess,
	exited: Promise<number | null>,
	graceMs: number
): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) {
		await exited;
		return;
	}
	// A stopped (SIGSTOP) process handles SIGTERM only once it runs again.
	child.kill('SIGCONT');
	child.kill('SIGTERM');
	const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
	await exited;
	clearTimeout(timer);
}

let handlersInstalled = false;

/**
 * When this process ends without the usual cleanup having run (vitest tears a worker down with
 * SIGTERM and SIGKILL after 500 ms; a benchmark is interrupted), the children go with it.
 */
function installLastResortHandlers(): void {
	if (handlersInstalled) return;
	handlersInstalled = true;
	process.on('exit', () => {
		for (const { child } of running) child.kill('SIGKILL');
	});
	for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
		const onSignal = () => {
			void (async () => {
				const children = [...running];
				for (const { child } of children) child.kill('SIGTERM');
				// Within the 500 ms vitest gives a worker before its SIGKILL.
				await Promise.race([Promise.all(children.map((started) => started.exited)), sleep(300)]);
				for (const { child } of children) child.kill('SIGKILL');
				process.off(signal, onSignal);
				// The default action now: ends this process as the signal would have.
				process.kill(process.pid, signal);
			})();
		};
		process.on(signal, onSignal);
	}
}
