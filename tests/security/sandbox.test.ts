import * as childProcess from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
	createSandboxPool,
	type SandboxPool,
	type SandboxResult
} from '../../src/lib/server/sandbox/pool.ts';
import { scaled } from '../helpers/deadline.ts';

/**
 * Attacks on the code sandbox: guest JavaScript trying to reach the host (constructor chains, error
 * stack hooks, modules, globals, prototypes), to exhaust it (loops, memory, recursion, promises,
 * output), or to leave something behind for the next execution. After each, the pool still works.
 */

// Spied, not replaced: the runners are real processes; the spy lets us see what they were given.
vi.mock('node:child_process', { spy: true });

// Secrets in the host's environment, which no runner may inherit.
process.env.AWE_SECRET_KEY ??= 'sandbox-test-secret-key-0123456789abcdef';

/**
 * The pool's time limit lies past the tests' own timeout: on a busy machine an attack on another limit
 * (memory, stack, output) must not end on the clock. The attacks on time set `timeLimit`.
 */
const testTimeoutMs = scaled(60_000);
const timeLimit = { timeoutMs: 1000 };

let pool: SandboxPool;
/** What the pool passed to `fork` when it started its runners. */
let forkOptions: (childProcess.ForkOptions | undefined)[] = [];
beforeAll(() => {
	pool = createSandboxPool({
		size: 2,
		timeoutMs: 2 * testTimeoutMs,
		fetch: () => Promise.reject(new Error('no requests in these tests'))
	});
	forkOptions = vi.mocked(childProcess.fork).mock.calls.map(([, , options]) => options);
});
afterAll(() => pool.close());

function errorOf(result: SandboxResult) {
	if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.output)}`);
	return result.error;
}

async function outputOf(source: string, allowFetch = false): Promise<unknown> {
	const result = await pool.run({ source, allowFetch, input: { from: 'host' }, data: [] });
	if (!result.ok) throw new Error(`${source}: ${result.error.code}: ${result.error.message}`);
	return result.output;
}

/** The host is fine and the pool answers: run after every attack. */
async function expectHealthy() {
	expect(await outputOf('return [1 + 1, typeof leaked, Object.keys({}).length]')).toEqual([
		2,
		'undefined',
		0
	]);
	expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	expect(Object.getPrototypeOf(Object.prototype)).toBeNull();
}

// What QuickJS defines, plus `console` (and `fetch` when allowed): nothing of Node. A new name here
// after a QuickJS update deserves a look before it joins the list.
const standardGlobals = [
	'AggregateError',
	'Array',
	'ArrayBuffer',
	'BigInt',
	'BigInt64Array',
	'BigUint64Array',
	'Boolean',
	'DataView',
	'Date',
	'Error',
	'EvalError',
	'FinalizationRegistry',
	'Float16Array',
	'Float32Array',
	'Float64Array',
	'Function',
	'Infinity',
	'Int16Array',
	'Int32Array',
	'Int8Array',
	'InternalError',
	'Iterator',
	'JSON',
	'Map',
	'Math',
	'NaN',
	'Number',
	'Object',
	'Promise',
	'Proxy',
	'RangeError',
	'ReferenceError',
	'Reflect',
	'RegExp',
	'Set',
	'SharedArrayBuffer',
	'String',
	'Symbol',
	'SyntaxError',
	'TypeError',
	'URIError',
	'Uint16Array',
	'Uint32Array',
	'Uint8Array',
	'Uint8ClampedArray',
	'WeakMap',
	'WeakRef',
	'WeakSet',
	'console',
	'decodeURI',
	'decodeURIComponent',
	'encodeURI',
	'encodeURIComponent',
	'escape',
	'eval',
	'globalThis',
	'isFinite',
	'isNaN',
	'parseFloat',
	'parseInt',
	'undefined',
	'unescape'
];

const hostNames = [
	'process',
	'require',
	'module',
	'exports',
	'Buffer',
	'global',
	'__dirname',
	'__filename',
	'setTimeout',
	'setInterval',
	'setImmediate',
	'queueMicrotask',
	'WebAssembly',
	'std',
	'os',
	'scriptArgs',
	'print',
	'Deno',
	'Bun',
	'navigator'
];

describe('reaching the host', () => {
	it('finds only QuickJS built-ins on globalThis, however it gets there', async () => {
		const routes = [
			'globalThis',
			'this',
			"Function('return this')()",
			"(function () {}).constructor('return this')()",
			"(0, eval)('this')",
			"eval('globalThis')"
		];
		for (const route of routes) {
			const names = await outputOf(`return Object.getOwnPropertyNames(${route}).sort()`);
			expect(names, route).toEqual([...standardGlobals].sort());
		}
		const withFetch = await outputOf('return Object.getOwnPropertyNames(globalThis)', true);
		expect(withFetch).toContain('fetch');
		await expectHealthy();
	});

	it('gets no host object through constructor chains', async () => {
		expect(
			errorOf(await pool.run({ source: "this.constructor.constructor('return process')()" }))
		).toEqual({
			code: 'runtime_error',
			message: "ReferenceError: 'process' is not defined (line 1)"
		});
		const probes = [
			"(function () {}).constructor('return typeof process')()",
			"Function('return typeof require')()",
			"(async function () {}).constructor('return typeof process')",
			"(function* () {}).constructor('yield typeof process')().next().value",
			"input.constructor.constructor('return typeof process')()",
			"console.log.constructor('return typeof process')()",
			"Object.getPrototypeOf(console.log).constructor('return typeof Buffer')()",
			"[].map.constructor('return typeof module')()",
			"(() => {}).constructor.constructor('return typeof global')()"
		];
		for (const probe of probes) {
			const output = await outputOf(
				`const r = ${probe}; return typeof r === 'string' ? r : 'function'`
			);
			expect(['undefined', 'function'], probe).toContain(output);
		}
		// Every function the guest can see is a QuickJS function: the host functions behind console
		// and fetch are closed over, never exposed.
		const sources = (await outputOf(
			'return [console.log, fetch, console.log.constructor].map(String)',
			true
		)) as string[];
		for (const source of sources) expect(source).not.toMatch(/process|require|node:/);
		await expectHealthy();
	});

	it('cannot name a Node global, even with eval', async () => {
		const types = await outputOf(
			`return ${JSON.stringify(hostNames)}.map((name) => [name, eval('typeof ' + name), typeof globalThis[name]])`
		);
		for (const [name, viaEval, viaGlobal] of types as [string, string, string][]) {
			expect([name, viaEval, viaGlobal]).toEqual([name, 'undefined', 'undefined']);
		}
		await expectHealthy();
	});

	it('has no module system: require, import() and static import all fail', async () => {
		expect(errorOf(await pool.run({ source: "return require('fs')" }))).toMatchObject({
			code: 'runtime_error',
			message: expect.stringContaining("'require' is not defined")
		});
		expect(errorOf(await pool.run({ source: "return await import('node:fs')" }))).toMatchObject({
			code: 'runtime_error',
			message: expect.stringContaining('could not load module')
		});
		expect(
			errorOf(
				await pool.run({ source: "import fs from 'fs'; return fs.readFileSync('/etc/passwd')" })
			)
		).toMatchObject({ code: 'syntax_error' });
		expect(errorOf(await pool.run({ source: 'return import.meta' }))).toMatchObject({
			code: 'syntax_error'
		});
		expect(
			await outputOf("return eval(\"import('fs').then(() => 'loaded', (e) => e.message)\")")
		).toContain('could not load module');
		await expectHealthy();
	});

	it('gets nothing from V8 error stack hooks', async () => {
		const hostHook = (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
		const output = (await outputOf(`
			Error.prepareStackTrace = (error, frames) => frames.map((frame) => frame.getThis());
			Error.stackTraceLimit = Infinity;
			const hooks = [typeof Error.captureStackTrace];
			const error = new Error('probe');
			let stack;
			try { null.x } catch (caught) { stack = caught.stack }
			return { hooks, own: typeof error.stack, stack };
		`)) as { hooks: string[]; own: string; stack: string };
		expect(output.hooks).toEqual(['undefined']);
		expect(output.own).toBe('string');
		expect(output.stack).toMatch(/<input>/);
		expect(output.stack).not.toMatch(/node_modules|file:|node:|\/src\//);
		// The hook exists only in this execution: a later one, or the host, is untouched.
		expect(await outputOf('return typeof Error.prepareStackTrace')).toBe('undefined');
		expect((Error as { prepareStackTrace?: unknown }).prepareStackTrace).toBe(hostHook);
		await expectHealthy();
	});

	it('pollutes neither the host nor the next execution through prototypes', async () => {
		const output = await outputOf(`
			const parse = JSON.parse;
			Object.prototype.polluted = 'yes';
			Array.prototype.polluted = 'yes';
			JSON.parse = () => ({ hijacked: true });
			let refused = false;
			try { Object.prototype.__proto__ = { evil: true } } catch { refused = true }
			globalThis.leaked = true;
			return parse('{"__proto__": {"polluted": "via output"}, "constructor": {"prototype": {"x": 1}}}');
		`);
		// The output arrives as data: "__proto__" is an own key, not the prototype of anything.
		expect(Object.keys(output as object)).toEqual(['__proto__', 'constructor']);
		expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
		expect(
			await outputOf(
				'return [({}).polluted, [].polluted, JSON.parse("[1]"), typeof leaked, Object.getPrototypeOf(Object.prototype)]'
			)
		).toEqual([null, null, [1], 'undefined', null]);
		// Input with a "__proto__" key stays data on the way in as well.
		const result = await pool.run({
			source: 'return [input.admin, Object.keys(input), ({}).admin]',
			input: JSON.parse('{"__proto__": {"admin": true}}')
		});
		expect(result).toMatchObject({ ok: true, output: [null, ['__proto__'], null] });
		await expectHealthy();
	});
});

describe('exhausting the runner', () => {
	it('stops endless loops, even ones that try to catch the interruption', async () => {
		const loops = [
			'while (true) {}',
			'for (;;) { try { while (true) {} } catch {} }',
			"try { while (true) {} } finally { return 'escaped' }",
			'const f = () => Promise.resolve().then(f); f(); await new Promise(() => {})',
			"return /(a+)+$/.test('a'.repeat(40) + 'b')",
			'return new Proxy({}, { ownKeys() { for (;;) {} } })'
		];
		for (const source of loops) {
			const result = await pool.run({ source, limits: timeLimit });
			expect(errorOf(result), source).toMatchObject({ code: 'timeout' });
		}
		await expectHealthy();
	});

	it(
		'keeps one stuck execution from holding up the others',
		{ timeout: testTimeoutMs },
		async () => {
			// The stuck one cannot reach its deadline before the other answers, however busy the machine.
			const cancel = new AbortController();
			const stuck = pool.run({ source: 'while (true) {}', signal: cancel.signal });
			const first = await Promise.race([
				outputOf('return "meanwhile"').then((output) => ({ meanwhile: output })),
				stuck.then((result) => ({ stuck: result }))
			]);
			expect(first).toEqual({ meanwhile: 'meanwhile' });
			cancel.abort();
			expect(errorOf(await stuck)).toMatchObject({ code: 'aborted' });
			await expectHealthy();
		}
	);

	it('ends a promise that never settles', async () => {
		const result = await pool.run({ source: 'return new Promise(() => {})', limits: timeLimit });
		expect(errorOf(result)).toMatchObject({ code: 'timeout' });
		await expectHealthy();
	});

	it('stops memory bombs', { timeout: testTimeoutMs }, async () => {
		expect(errorOf(await pool.run({ source: "return 'x'.repeat(1e9).length" }))).toEqual({
			code: 'out_of_memory',
			message: 'The code used more than 64 MiB of memory.'
		});
		// Growing ones under a smaller limit, so that they fill it sooner.
		const bombs = [
			'return new ArrayBuffer(1e9).byteLength',
			'const a = []; for (;;) a.push("x".repeat(1000) + a.length)',
			'globalThis.keep = []; for (;;) keep.push({ n: keep.length })',
			'const a = []; for (;;) a.push(new Array(1e5).fill(a.length))',
			"let s = 'ab'; const parts = []; for (;;) { parts.push(s); s = s + parts.length }"
		];
		for (const source of bombs) {
			const result = await pool.run({ source, limits: { memoryLimitBytes: 16 * 1024 * 1024 } });
			expect(errorOf(result), source).toEqual({
				code: 'out_of_memory',
				message: 'The code used more than 16 MiB of memory.'
			});
		}
		await expectHealthy();
	});

	it('stops deep recursion', { timeout: testTimeoutMs }, async () => {
		const deep = [
			'function f() { return f() } return f()',
			'const f = () => [f()]; return f()',
			"return JSON.parse('['.repeat(1e5) + ']'.repeat(1e5))",
			'let o = {}; for (let i = 0; i < 1e5; i++) o = { o }; return o'
		];
		for (const source of deep) {
			expect(errorOf(await pool.run({ source })), source).toMatchObject({ code: 'stack_overflow' });
		}
		await expectHealthy();
	});

	it(
		'refuses giant output and keeps giant logs to their cap',
		{ timeout: testTimeoutMs },
		async () => {
			expect(
				errorOf(await pool.run({ source: "return 'x'.repeat(1024 * 1024 + 1)" }))
			).toMatchObject({
				code: 'output_too_large'
			});
			expect(
				errorOf(await pool.run({ source: 'return Array.from({ length: 200000 }, (_, i) => i)' }))
			).toMatchObject({ code: 'output_too_large' });
			// Three times the line cap, lines over twice the length cap.
			const spam = await pool.run({
				source: "for (let i = 0; i < 3000; i++) console.log('y'.repeat(10000)); return 'done'"
			});
			expect(spam).toMatchObject({ ok: true, output: 'done' });
			expect(spam.logs).toHaveLength(1001);
			expect(Math.max(...spam.logs.map((entry) => entry.message.length))).toBeLessThanOrEqual(4097);
			await expectHealthy();
		}
	);

	it('refuses output that is not JSON', async () => {
		const values = [
			'return function () {}',
			'return { nested: [() => 1] }',
			'const a = [1]; a.push(a); return a',
			'return 10n',
			'return { s: Symbol.iterator }',
			'return new Set([1])',
			'return { get sneaky() { return () => 1 } }',
			'return { then(resolve) { resolve({ f() {} }) } }'
		];
		for (const source of values) {
			expect(errorOf(await pool.run({ source })), source).toMatchObject({ code: 'not_json' });
		}
		await expectHealthy();
	});
});

describe('runner processes', () => {
	it('are spawned with an empty environment', async () => {
		expect(forkOptions).toHaveLength(2);
		for (const options of forkOptions) expect(options?.env).toEqual({});
		expect(process.env.AWE_SECRET_KEY).toBeDefined();
		if (process.platform === 'linux') {
			for (const pid of pool.runnerPids()) {
				const environment = readFileSync(`/proc/${pid}/environ`, 'utf8');
				expect(environment).not.toContain('AWE_SECRET_KEY');
				expect(environment).not.toContain('PATH=');
				expect(
					environment.split('\0').filter((entry) => entry && !entry.startsWith('NODE_CHANNEL_'))
				).toEqual([]);
			}
		}
		await expectHealthy();
	});

	it('run under the Node permission model, without code generation from strings', () => {
		expect(forkOptions).toHaveLength(2);
		for (const options of forkOptions) {
			expect(options?.execArgv).toContain('--disallow-code-generation-from-strings');
			if (process.allowedNodeEnvironmentFlags.has('--permission')) {
				expect(options?.execArgv).toContain('--permission');
				expect(options?.execArgv?.filter((flag) => flag.startsWith('--allow-'))).toEqual([
					expect.stringMatching(/^--allow-fs-read=.*runner-process\.js$/),
					expect.stringMatching(/^--allow-fs-read=.*node_modules$/)
				]);
			}
		}
	});
});
