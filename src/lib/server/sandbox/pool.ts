import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
	fetchResponseSchema,
	runnerMessageSchema,
	type FetchReplyMessage,
	type RunMessage,
	type RunnerMessage,
	type RunnerResult,
	type SandboxError,
	type SandboxErrorCode,
	type SandboxFetchRequest,
	type SandboxFetchResponse,
	type SandboxLimits,
	type SandboxLogEntry
} from './protocol.ts';

export type {
	SandboxError,
	SandboxErrorCode,
	SandboxFetchRequest,
	SandboxFetchResponse,
	SandboxLimits,
	SandboxLogEntry
} from './protocol.ts';

export const defaultSandboxLimits: SandboxLimits = {
	memoryLimitBytes: 64 * 1024 * 1024,
	timeoutMs: 5000,
	// QuickJS recursion also uses V8's native stack in the runner; at 256 KiB QuickJS stops first.
	maxStackBytes: 256 * 1024,
	maxOutputBytes: 1024 * 1024,
	maxLogLines: 1000,
	maxLogLineChars: 4096
};

/** How long past its deadline a runner may take to answer before it is killed. */
const backstopGraceMs = 1000;
const runnerStartTimeoutMs = 20_000;
const maxFetchesPerExecution = 50;
/** Executions that end like this may have left their runner worn; it is replaced. */
const recycledAfter = new Set<SandboxErrorCode>([
	'timeout',
	'out_of_memory',
	'stack_overflow',
	'runner_crashed'
]);

/** The HTTP client guest `fetch` calls go through (the guarded client in production). */
export type SandboxFetch = (
	request: SandboxFetchRequest,
	options: { signal: AbortSignal }
) => Promise<SandboxFetchResponse>;

export type SandboxPoolOptions = Partial<SandboxLimits> & {
	/** Runner processes, each running one execution at a time. */
	size?: number;
	fetch?: SandboxFetch;
};

export type SandboxRunRequest = {
	/** The body of an async function of `input` and `data`; what it returns is the output. */
	source: string;
	input?: unknown;
	data?: unknown;
	limits?: Partial<SandboxLimits>;
	allowFetch?: boolean;
	signal?: AbortSignal;
};

export type SandboxResult =
	| { ok: true; output: unknown; logs: SandboxLogEntry[] }
	| { ok: false; error: SandboxError; logs: SandboxLogEntry[] };

export type SandboxPool = {
	/** Runs guest code; settles with a result, never rejects (except once the pool is closed). */
	run(request: SandboxRunRequest): Promise<SandboxResult>;
	/** Process ids of the current runners (for metrics and tests). */
	runnerPids(): number[];
	/** Cancels queued and running executions and stops every runner. */
	close(): Promise<void>;
};

const runnerFileName = 'runner-process.js';

/**
 * Where the runner script and the node_modules it loads QuickJS from are. Beside this module in the
 * source tree (dev, tests, `src/worker.ts`); in the built app this module is bundled under `build/`,
 * so the runner is looked up at its source path in the nearest directory above that has it.
 */
export function locateRunner(from: string = import.meta.url): { file: string; modules: string } {
	const here = path.dirname(fileURLToPath(from));
	let file = path.join(here, runnerFileName);
	for (let dir = here; !existsSync(file);) {
		file = path.join(dir, 'src', 'lib', 'server', 'sandbox', runnerFileName);
		const parent = path.dirname(dir);
		if (existsSync(file)) break;
		if (existsSync(path.join(dir, 'package.json')) || parent === dir) {
			throw new Error(`The code runner (src/lib/server/sandbox/${runnerFileName}) is missing.`);
		}
		dir = parent;
	}
	const entry = createRequire(file).resolve('quickjs-emscripten');
	const marker = `${path.sep}node_modules${path.sep}`;
	const modules = entry.slice(0, entry.indexOf(marker) + marker.length - 1);
	return { file, modules };
}

/**
 * Node flags for a runner: no code generation from strings in its own realm, and where Node has the
 * permission model, reading only its script and node_modules (no writes, child processes or workers).
 */
export function runnerExecArgv(runner: { file: string; modules: string }): string[] {
	const flags = ['--disallow-code-generation-from-strings'];
	if (process.allowedNodeEnvironmentFlags.has('--permission')) {
		flags.push(
			'--permission',
			`--allow-fs-read=${runner.file}`,
			`--allow-fs-read=${runner.modules}`
		);
	}
	return flags;
}

function failed(
	code: SandboxErrorCode,
	message: string,
	logs: SandboxLogEntry[] = []
): SandboxResult {
	return { ok: false, error: { code, message }, logs };
}

const cancelled = () => failed('aborted', 'The execution was cancelled.');

function resolveLimits(base: SandboxLimits, overrides: Partial<SandboxLimits> = {}): SandboxLimits {
	const limits = { ...base };
	for (const key of Object.keys(limits) as (keyof SandboxLimits)[]) {
		const value = overrides[key] ?? limits[key];
		if (!Number.isSafeInteger(value) || value <= 0) {
			throw new RangeError(`Sandbox limit ${key} must be a positive integer, not ${value}.`);
		}
		limits[key] = value;
	}
	return limits;
}

function jsonText(value: unknown, what: string): string {
	const text = JSON.stringify(value === undefined ? null : value);
	if (text === undefined) throw new TypeError(`The sandbox ${what} is not JSON.`);
	return text;
}

function fromRunner(result: RunnerResult): SandboxResult {
	if (!result.ok) return result;
	try {
		return { ok: true, output: JSON.parse(result.output), logs: result.logs };
	} catch {
		return failed('not_json', 'The output is not JSON.', result.logs);
	}
}

type Job = {
	message: RunMessage;
	signal: AbortSignal | undefined;
	resolve: (result: SandboxResult) => void;
	settled: boolean;
	runner: Runner | null;
	backstop: NodeJS.Timeout | undefined;
	/** Aborts the job's in-flight HTTP requests once it is over. */
	requests: AbortController;
	requestCount: number;
	onAbort: () => void;
};

type Runner = {
	child: ChildProcess;
	ready: boolean;
	job: Job | null;
	startTimer: NodeJS.Timeout;
	exited: Promise<void>;
	onExited: () => void;
	gone: boolean;
};

class Pool implements SandboxPool {
	private readonly runners = new Set<Runner>();
	private readonly queue: Job[] = [];
	private readonly location: { file: string; modules: string };
	private readonly execArgv: string[];
	private readonly size: number;
	private readonly limits: SandboxLimits;
	private readonly fetch: SandboxFetch | undefined;
	private nextJobId = 0;
	private closed = false;
	private closing: Promise<void> | null = null;

	constructor(size: number, limits: SandboxLimits, fetch: SandboxFetch | undefined) {
		this.size = size;
		this.limits = limits;
		this.fetch = fetch;
		this.location = locateRunner();
		this.execArgv = runnerExecArgv(this.location);
		for (let i = 0; i < size; i++) this.spawn();
	}

	run(request: SandboxRunRequest): Promise<SandboxResult> {
		if (this.closed) return Promise.reject(new Error('The sandbox pool is closed.'));
		const message: RunMessage = {
			type: 'run',
			id: ++this.nextJobId,
			source: request.source,
			input: jsonText(request.input, 'input'),
			data: jsonText(request.data, 'data'),
			limits: resolveLimits(this.limits, request.limits),
			allowFetch: request.allowFetch === true
		};
		if (request.signal?.aborted) return Promise.resolve(cancelled());
		return new Promise((resolve) => {
			const job: Job = {
				message,
				signal: request.signal,
				resolve,
				settled: false,
				runner: null,
				backstop: undefined,
				requests: new AbortController(),
				requestCount: 0,
				onAbort: () => this.abort(job)
			};
			request.signal?.addEventListener('abort', job.onAbort, { once: true });
			this.queue.push(job);
			this.dispatch();
		});
	}

	runnerPids(): number[] {
		return this.liveRunners().flatMap((runner) => (runner.child.pid ? [runner.child.pid] : []));
	}

	close(): Promise<void> {
		if (!this.closing) {
			this.closed = true;
			for (const job of this.queue.splice(0)) this.finish(job, cancelled());
			for (const runner of this.runners) {
				// Held open until it has exited, so awaiting close() keeps the host alive.
				this.keepAlive(runner, true);
				this.retire(runner, cancelled());
			}
			this.closing = Promise.all([...this.runners].map((runner) => runner.exited)).then(() => {});
		}
		return this.closing;
	}

	private spawn(): Runner {
		const child = fork(this.location.file, [String(this.limits.memoryLimitBytes)], {
			// Nothing of the host's environment (DATABASE_URL, AWE_SECRET_KEY, …) reaches a runner.
			env: {},
			execArgv: this.execArgv,
			serialization: 'json',
			stdio: ['ignore', 'inherit', 'inherit', 'ipc']
		});
		let onExited = () => {};
		const exited = new Promise<void>((resolve) => (onExited = resolve));
		const runner: Runner = {
			child,
			ready: false,
			job: null,
			startTimer: setTimeout(
				() => this.retire(runner, failed('runner_crashed', 'The code runner did not start.')),
				runnerStartTimeoutMs
			).unref(),
			exited,
			onExited,
			gone: false
		};
		this.runners.add(runner);
		this.keepAlive(runner, false);
		child.on('message', (message) => this.onMessage(runner, message));
		child.on('exit', (code, signal) => this.onExit(runner, signal ?? `exit code ${code}`));
		child.on('error', () => {
			// Only a process that never started has no exit to wait for.
			if (child.pid === undefined) this.onExit(runner, 'not started');
		});
		return runner;
	}

	/** An idle runner keeps neither the IPC channel nor the process handle holding the host open. */
	private keepAlive(runner: Runner, busy: boolean) {
		if (busy) {
			runner.child.ref();
			runner.child.channel?.ref();
		} else {
			runner.child.unref();
			runner.child.channel?.unref();
		}
	}

	/** Runners not being stopped (a killed one stays in `runners` until its exit is seen). */
	private liveRunners(): Runner[] {
		return [...this.runners].filter((runner) => !runner.gone);
	}

	private dispatch() {
		while (this.queue.length > 0) {
			let runner = this.idleRunner();
			if (!runner) {
				if (this.liveRunners().length >= this.size) return;
				runner = this.spawn();
			}
			const job = this.queue.shift();
			if (!job) return;
			runner.job = job;
			job.runner = runner;
			this.keepAlive(runner, true);
			if (runner.ready) this.start(runner, job);
		}
	}

	private idleRunner(): Runner | undefined {
		let starting: Runner | undefined;
		for (const runner of this.runners) {
			if (runner.job || runner.gone) continue;
			if (runner.ready) return runner;
			starting ??= runner;
		}
		return starting;
	}

	private start(runner: Runner, job: Job) {
		const { timeoutMs } = job.message.limits;
		job.backstop = setTimeout(() => {
			this.retire(
				runner,
				failed('timeout', `The code ran longer than ${timeoutMs} ms; its runner was stopped.`)
			);
		}, timeoutMs + backstopGraceMs);
		this.send(runner, job.message);
	}

	private send(runner: Runner, message: RunMessage | FetchReplyMessage) {
		runner.child.send(message, (error) => {
			if (error) this.retire(runner);
		});
	}

	private onMessage(runner: Runner, raw: unknown) {
		const parsed = runnerMessageSchema.safeParse(raw);
		if (!parsed.success) {
			this.retire(runner);
			return;
		}
		const message = parsed.data;
		const { job } = runner;
		if (message.type === 'ready') {
			runner.ready = true;
			clearTimeout(runner.startTimer);
			if (job) this.start(runner, job);
			else this.dispatch();
			return;
		}
		if (!job || job.message.id !== message.id) return;
		if (message.type === 'fetch') {
			void this.forwardFetch(runner, job, message);
			return;
		}
		runner.job = null;
		job.runner = null;
		this.finish(job, fromRunner(message.result));
		if (!message.result.ok && recycledAfter.has(message.result.error.code)) {
			this.retire(runner);
		} else {
			this.keepAlive(runner, false);
			this.dispatch();
		}
	}

	private async forwardFetch(
		runner: Runner,
		job: Job,
		message: Extract<RunnerMessage, { type: 'fetch' }>
	) {
		let reply: { response: SandboxFetchResponse } | { error: string };
		if (!job.message.allowFetch) {
			reply = { error: 'fetch is not allowed here' };
		} else if (!this.fetch) {
			reply = { error: 'no HTTP client is configured' };
		} else if (++job.requestCount > maxFetchesPerExecution) {
			reply = { error: `more than ${maxFetchesPerExecution} requests in one execution` };
		} else {
			try {
				const response = fetchResponseSchema.safeParse(
					await this.fetch(message.request, { signal: job.requests.signal })
				);
				reply = response.success
					? { response: response.data }
					: { error: 'the HTTP client gave an invalid response' };
			} catch (error) {
				reply = { error: error instanceof Error ? error.message : String(error) };
			}
		}
		if (job.settled || runner.job !== job) return;
		this.send(runner, {
			type: 'fetch-reply',
			id: job.message.id,
			requestId: message.requestId,
			...reply
		});
	}

	private abort(job: Job) {
		if (job.settled) return;
		const queued = this.queue.indexOf(job);
		if (queued >= 0) this.queue.splice(queued, 1);
		const { runner } = job;
		if (runner?.ready) {
			// Running: only killing the runner stops it.
			this.retire(runner, cancelled());
			return;
		}
		if (runner) {
			// Waiting for its runner to start: the runner is free again.
			runner.job = null;
			job.runner = null;
			this.keepAlive(runner, false);
		}
		this.finish(job, cancelled());
	}

	private finish(job: Job, result: SandboxResult) {
		if (job.settled) return;
		job.settled = true;
		clearTimeout(job.backstop);
		job.signal?.removeEventListener('abort', job.onAbort);
		job.requests.abort();
		job.resolve(result);
	}

	/** Kills a runner and replaces it; its job, if any, ends with `result`. */
	private retire(
		runner: Runner,
		result: SandboxResult = failed('runner_crashed', 'The code runner misbehaved and was stopped.')
	) {
		runner.child.kill('SIGKILL');
		this.lose(runner, result);
	}

	private onExit(runner: Runner, reason: string) {
		this.runners.delete(runner);
		clearTimeout(runner.startTimer);
		runner.onExited();
		this.lose(
			runner,
			failed(
				'runner_crashed',
				runner.ready
					? `The code runner stopped unexpectedly (${reason}).`
					: 'The code runner could not start.'
			)
		);
	}

	private lose(runner: Runner, jobResult: SandboxResult) {
		if (runner.gone) return;
		runner.gone = true;
		const { job } = runner;
		if (job) {
			runner.job = null;
			job.runner = null;
			this.finish(job, jobResult);
		}
		if (this.closed) return;
		// A runner that worked is replaced at once, warm for the next execution; one that never
		// started is replaced only when work needs it, so a broken install cannot spin.
		if (runner.ready && this.liveRunners().length < this.size) this.spawn();
		this.dispatch();
	}
}

/** A pool of QuickJS runner processes for untrusted code. See docs/sandbox.md. */
export function createSandboxPool(options: SandboxPoolOptions = {}): SandboxPool {
	const { size = 2, fetch, ...limits } = options;
	if (!Number.isSafeInteger(size) || size < 1) {
		throw new RangeError(`Sandbox pool size must be a positive integer, not ${size}.`);
	}
	return new Pool(size, resolveLimits(defaultSandboxLimits, limits), fetch);
}
