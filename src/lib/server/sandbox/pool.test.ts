import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { scaled } from '../../../../tests/helpers/deadline.ts';
import {
	createSandboxPool,
	locateRunner,
	runnerExecArgv,
	type SandboxFetch,
	type SandboxResult
} from './pool.ts';

const echoFetch = vi.fn<SandboxFetch>(async (request) => ({
	status: 201,
	headers: { 'content-type': 'application/json' },
	body: JSON.stringify({ got: request })
}));

/**
 * The pool's time limit lies past the tests' own timeout: on a busy machine a test of another limit
 * (memory, stack, output) must not end on the clock. Only the tests of the time limit set a short one.
 */
const testTimeoutMs = scaled(60_000);
// Two runners keep the machine free for others.
const pool = createSandboxPool({ size: 2, timeoutMs: 2 * testTimeoutMs, fetch: echoFetch });
afterAll(() => pool.close());

function run(source: string, extra: Omit<Parameters<typeof pool.run>[0], 'source'> = {}) {
	return pool.run({ source, ...extra });
}

function errorOf(result: SandboxResult) {
	if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.output)}`);
	return result.error;
}

describe('guest contract', () => {
	it('runs the source as an async function body of input and data', async () => {
		const result = await run(
			'const sum = input.a + data.b; await null; return { sum, list: [1, "x"] };',
			{
				input: { a: 1 },
				data: { b: 2 }
			}
		);
		expect(result).toEqual({ ok: true, output: { sum: 3, list: [1, 'x'] }, logs: [] });
	});

	it('gives null for no return value, and JSON semantics for undefined and NaN', async () => {
		expect(await run('')).toMatchObject({ ok: true, output: null });
		expect(
			await run('return { a: undefined, b: NaN, c: [undefined], d: new Date(0) }')
		).toMatchObject({
			ok: true,
			output: { b: null, c: [null], d: '1970-01-01T00:00:00.000Z' }
		});
	});

	it('captures console lines with their level', async () => {
		const result = await run(
			'console.log("a", 1, { b: [2] }); console.info("i"); console.warn("w"); console.error(new TypeError("e")); return 0'
		);
		expect(result.logs).toEqual([
			{ level: 'log', message: 'a 1 {"b":[2]}' },
			{ level: 'info', message: 'i' },
			{ level: 'warn', message: 'w' },
			{ level: 'error', message: 'TypeError: e' }
		]);
	});

	it('caps the number and length of log lines', async () => {
		const result = await run(
			'for (let i = 0; i < 100; i++) console.log("x".repeat(50)); return 1',
			{
				limits: { maxLogLines: 3, maxLogLineChars: 10 }
			}
		);
		expect(result).toMatchObject({ ok: true, output: 1 });
		expect(result.logs).toEqual([
			{ level: 'log', message: 'xxxxxxxxxx…' },
			{ level: 'log', message: 'xxxxxxxxxx…' },
			{ level: 'log', message: 'xxxxxxxxxx…' },
			{ level: 'warn', message: '(log truncated: more than 3 lines)' }
		]);
	});

	it('reports syntax errors and thrown errors with the source line', async () => {
		expect(errorOf(await run('return (;'))).toMatchObject({ code: 'syntax_error' });
		expect(errorOf(await run('const a = 1;\nnull.x'))).toEqual({
			code: 'runtime_error',
			message: "TypeError: cannot read property 'x' of null (line 2)"
		});
		expect(errorOf(await run('throw { reason: "nope" }'))).toEqual({
			code: 'runtime_error',
			message: 'Uncaught {"reason":"nope"}'
		});
		const logged = await run('console.log("before"); throw new Error("after")');
		expect(logged).toMatchObject({ ok: false, logs: [{ level: 'log', message: 'before' }] });
	});

	it('refuses output that is not plain JSON data', async () => {
		const cases: [string, string][] = [
			['return () => 1', 'a function'],
			['return { f() {} }', 'a function at "f"'],
			['return { big: 1n }', 'a bigint at "big"'],
			['return Symbol("s")', 'a symbol'],
			['const a = {}; a.self = a; return a', 'circular reference'],
			['return { m: new Map([[1, 2]]) }', 'a Map at "m"'],
			['class Point { x = 1 }; return [new Point()]', 'a Point at "0"']
		];
		for (const [source, problem] of cases) {
			expect(errorOf(await run(source))).toEqual({
				code: 'not_json',
				message: `The output is not JSON: ${problem}.`
			});
		}
	});

	it('measures the output in UTF-8 bytes', async () => {
		const limits = { maxOutputBytes: 100 };
		expect(await run('return "é".repeat(49)', { limits })).toMatchObject({ ok: true });
		expect(errorOf(await run('return "é".repeat(50)', { limits }))).toMatchObject({
			code: 'output_too_large'
		});
		expect(errorOf(await run('return "x".repeat(2 * 1024 * 1024)'))).toEqual({
			code: 'output_too_large',
			message: 'The output is larger than 1 MiB as JSON.'
		});
	});

	it('starts every execution in a fresh context', async () => {
		await run('globalThis.leak = 1; Object.prototype.polluted = true; Array.prototype.push = null');
		const results = await Promise.all(
			[1, 2, 3].map(() => run('return [typeof leak, ({}).polluted, [].push.name]'))
		);
		for (const result of results) {
			expect(result).toMatchObject({ ok: true, output: ['undefined', null, 'push'] });
		}
	});
});

describe('limits', () => {
	it('stops an endless loop at the deadline and replaces its runner', async () => {
		const before = pool.runnerPids();
		const result = await run('while (true) {}', { limits: { timeoutMs: 300 } });
		// The runner's own deadline, not the host's backstop (which says the runner was stopped).
		expect(errorOf(result)).toEqual({
			code: 'timeout',
			message: 'The code ran longer than 300 ms.'
		});
		await vi.waitFor(() => expect(pool.runnerPids()).toHaveLength(2));
		expect(pool.runnerPids()).not.toEqual(before);
		expect(await run('return "alive"')).toMatchObject({ ok: true, output: 'alive' });
	});

	it('ends a promise that can never settle without waiting for the deadline', async () => {
		const result = await run('await new Promise(() => {}); return 1');
		// Said when nothing is left that could settle it; the deadline would say it ran too long.
		expect(errorOf(result)).toEqual({
			code: 'timeout',
			message: 'The code awaits a promise that never settles.'
		});
	});

	it('stops memory bombs at the memory limit', { timeout: testTimeoutMs }, async () => {
		expect(errorOf(await run("return 'x'.repeat(1e9).length"))).toEqual({
			code: 'out_of_memory',
			message: 'The code used more than 64 MiB of memory.'
		});
		const growing = await run('const a = []; for (;;) a.push("x".repeat(1000) + a.length)', {
			limits: { memoryLimitBytes: 8 * 1024 * 1024 }
		});
		expect(errorOf(growing)).toMatchObject({ code: 'out_of_memory' });
		expect(await run('return "alive"')).toMatchObject({ ok: true, output: 'alive' });
	});

	it(
		'stops deep recursion, in guest code and in the output',
		{ timeout: testTimeoutMs },
		async () => {
			expect(errorOf(await run('function f() { return f() + 1 } return f()'))).toMatchObject({
				code: 'stack_overflow'
			});
			expect(
				errorOf(await run('let o = []; for (let i = 0; i < 1e5; i++) o = [o]; return o'))
			).toMatchObject({ code: 'stack_overflow' });
			expect(
				await run('function f(n) { return n ? f(n - 1) + 1 : 0 } return f(500)')
			).toMatchObject({
				ok: true,
				output: 500
			});
		}
	);

	it('kills a runner that does not answer in time', async () => {
		const pending = run('return 1', { limits: { timeoutMs: 200 } });
		// Freeze whichever runner took the job: only the host-side backstop can end it now.
		for (const pid of pool.runnerPids()) process.kill(pid, 'SIGSTOP');
		const result = await pending;
		for (const pid of pool.runnerPids()) process.kill(pid, 'SIGCONT');
		expect(['timeout', 'runner_crashed']).toContain(errorOf(result).code);
		expect(await run('return "alive"')).toMatchObject({ ok: true, output: 'alive' });
	});

	it('reports a runner that dies under an execution, and replaces it', async () => {
		const stuck = vi.fn<SandboxFetch>(() => new Promise(() => {}));
		const local = createSandboxPool({ size: 1, fetch: stuck });
		try {
			const pending = local.run({ source: 'await fetch("https://x.test/")', allowFetch: true });
			await vi.waitFor(() => expect(stuck).toHaveBeenCalled());
			const [pid] = local.runnerPids();
			process.kill(pid ?? 0, 'SIGKILL');
			expect(errorOf(await pending)).toMatchObject({ code: 'runner_crashed' });
			expect(await local.run({ source: 'return 2' })).toMatchObject({ ok: true, output: 2 });
		} finally {
			await local.close();
		}
	});
});

describe('fetch', () => {
	it('forwards requests to the host client and gives back a response object', async () => {
		echoFetch.mockClear();
		const result = await run(
			`const response = await fetch('https://api.test/items', {
				method: 'POST', headers: { 'x-a': '1' }, body: JSON.stringify({ n: 1 })
			});
			return { status: response.status, ok: response.ok, type: response.headers['content-type'],
				json: await response.json(), text: (await response.text()).length > 0 };`,
			{ allowFetch: true }
		);
		const request = {
			url: 'https://api.test/items',
			method: 'POST',
			headers: { 'x-a': '1' },
			body: '{"n":1}'
		};
		expect(result).toMatchObject({
			ok: true,
			output: {
				status: 201,
				ok: true,
				type: 'application/json',
				json: { got: request },
				text: true
			}
		});
		expect(echoFetch).toHaveBeenCalledWith(request, { signal: expect.any(AbortSignal) });
	});

	it('refuses a request the guest bent out of shape', async () => {
		echoFetch.mockClear();
		const result = await run(
			`Object.prototype.toJSON = () => 42;
			try { await fetch('https://a.test/') } catch (error) { return error.message }`,
			{ allowFetch: true }
		);
		expect(result).toMatchObject({ ok: true, output: 'fetch: invalid request' });
		expect(echoFetch).not.toHaveBeenCalled();
	});

	it('is absent unless allowed', async () => {
		echoFetch.mockClear();
		expect(await run('return typeof fetch')).toMatchObject({ ok: true, output: 'undefined' });
		expect(echoFetch).not.toHaveBeenCalled();
	});

	it('rejects in the guest when the host client fails, and checks arguments', async () => {
		echoFetch.mockRejectedValueOnce(new Error('blocked: private address'));
		const result = await run(
			`const errors = [];
			for (const call of [() => fetch('http://10.0.0.1/'), () => fetch(1), () => fetch('https://a.test/', { body: {} })]) {
				try { await call(); } catch (error) { errors.push(error.message); }
			}
			return errors;`,
			{ allowFetch: true }
		);
		expect(result).toMatchObject({
			ok: true,
			output: [
				'fetch failed: blocked: private address',
				'fetch: the URL must be a string',
				'fetch: body must be a string (JSON.stringify it)'
			]
		});
	});

	it('counts the wait for a response against the deadline and aborts the request', async () => {
		let signal: AbortSignal | undefined;
		const slow = createSandboxPool({
			size: 1,
			fetch: (_request, options) => {
				signal = options.signal;
				return new Promise(() => {});
			}
		});
		try {
			const result = await slow.run({
				source: 'await fetch("https://slow.test/")',
				allowFetch: true,
				limits: { timeoutMs: 300 }
			});
			expect(errorOf(result)).toMatchObject({ code: 'timeout' });
			expect(signal?.aborted).toBe(true);
			const noClient = createSandboxPool({ size: 1 });
			const refused = await noClient.run({
				source: 'try { await fetch("https://a.test/") } catch (e) { return e.message }',
				allowFetch: true
			});
			await noClient.close();
			expect(refused).toMatchObject({
				ok: true,
				output: 'fetch failed: no HTTP client is configured'
			});
		} finally {
			await slow.close();
		}
	});
});

describe('pool', () => {
	it('runs one execution per runner and queues the rest', async () => {
		let inFlight = 0;
		let most = 0;
		const local = createSandboxPool({
			size: 2,
			fetch: async () => {
				most = Math.max(most, ++inFlight);
				await new Promise((resolve) => setTimeout(resolve, 100));
				inFlight--;
				return { status: 200, headers: {}, body: '' };
			}
		});
		try {
			const results = await Promise.all(
				[0, 1, 2, 3, 4].map((i) =>
					local.run({ source: `await fetch("https://a.test/"); return ${i}`, allowFetch: true })
				)
			);
			expect(results.map((result) => result.ok && result.output)).toEqual([0, 1, 2, 3, 4]);
			expect(most).toBe(2);
			expect(local.runnerPids()).toHaveLength(2);
		} finally {
			await local.close();
		}
	});

	it('cancels queued and running executions on abort', async () => {
		const local = createSandboxPool({ size: 1, timeoutMs: 5000 });
		try {
			// Once it has run something the runner is surely started: cancelling now must kill it.
			await local.run({ source: 'return 0' });
			const [pid] = local.runnerPids();
			const running = new AbortController();
			const queued = new AbortController();
			const first = local.run({ source: 'while (true) {}', signal: running.signal });
			const second = local.run({ source: 'return 1', signal: queued.signal });
			queued.abort();
			expect(errorOf(await second)).toMatchObject({ code: 'aborted' });
			await new Promise((resolve) => setTimeout(resolve, 200));
			running.abort();
			expect(errorOf(await first)).toEqual({
				code: 'aborted',
				message: 'The execution was cancelled.'
			});
			expect(errorOf(await local.run({ source: '', signal: AbortSignal.abort() }))).toMatchObject({
				code: 'aborted'
			});
			expect(await local.run({ source: 'return 3' })).toMatchObject({ ok: true, output: 3 });
			expect(local.runnerPids()).not.toContain(pid);
		} finally {
			await local.close();
		}
	});

	it('aborts what is left when it closes, and refuses work afterwards', async () => {
		const local = createSandboxPool({ size: 1 });
		const running = local.run({ source: 'while (true) {}' });
		const queued = local.run({ source: 'return 1' });
		await local.close();
		expect(errorOf(await running)).toMatchObject({ code: 'aborted' });
		expect(errorOf(await queued)).toMatchObject({ code: 'aborted' });
		expect(local.runnerPids()).toEqual([]);
		await expect(local.run({ source: 'return 1' })).rejects.toThrow('closed');
	});

	it('validates its options and inputs', () => {
		expect(() => createSandboxPool({ size: 0 })).toThrow(RangeError);
		expect(() => createSandboxPool({ timeoutMs: -1 })).toThrow(RangeError);
		expect(() => pool.run({ source: '', input: { big: 1n } })).toThrow(TypeError);
	});

	it.runIf(process.platform === 'linux')('starts runners with an empty environment', () => {
		const pids = pool.runnerPids();
		expect(pids.length).toBeGreaterThan(0);
		for (const pid of pids) {
			const names = readFileSync(`/proc/${pid}/environ`, 'utf8')
				.split('\0')
				.filter(Boolean)
				.map((entry) => entry.slice(0, entry.indexOf('=')));
			// Node adds only the IPC channel's own variables, and removes them from process.env.
			expect(names.filter((name) => !name.startsWith('NODE_CHANNEL_'))).toEqual([]);
		}
	});
});

describe('runner location', () => {
	const root = mkdtempSync(path.join(tmpdir(), 'awe-sandbox-'));
	afterAll(() => rmSync(root, { recursive: true, force: true }));

	it('finds the runner at its source path from a bundle under build/', () => {
		const sandbox = path.join(root, 'src/lib/server/sandbox');
		mkdirSync(sandbox, { recursive: true });
		mkdirSync(path.join(root, 'build/server/chunks'), { recursive: true });
		mkdirSync(path.join(root, 'node_modules'));
		cpSync(
			path.join(import.meta.dirname, 'runner-process.js'),
			path.join(sandbox, 'runner-process.js')
		);
		symlinkSync(
			path.join(import.meta.dirname, '../../../../node_modules/quickjs-emscripten'),
			path.join(root, 'node_modules/quickjs-emscripten')
		);
		cpSync(
			path.join(import.meta.dirname, '../../../../package.json'),
			path.join(root, 'package.json')
		);
		const located = locateRunner(
			pathToFileURL(path.join(root, 'build/server/chunks/pool.js')).href
		);
		expect(located.file).toBe(path.join(sandbox, 'runner-process.js'));
		expect(runnerExecArgv(located)).toContain(`--allow-fs-read=${located.file}`);
	});

	it('says so when the runner is missing', () => {
		const elsewhere = mkdtempSync(path.join(root, 'app-'));
		cpSync(
			path.join(import.meta.dirname, '../../../../package.json'),
			path.join(elsewhere, 'package.json')
		);
		expect(() => locateRunner(pathToFileURL(path.join(elsewhere, 'build/index.js')).href)).toThrow(
			'The code runner (src/lib/server/sandbox/runner-process.js) is missing.'
		);
	});
});
