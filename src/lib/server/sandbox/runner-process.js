// A code runner: the child process the sandbox pool (pool.ts) starts with an empty environment. It runs
// guest JavaScript in QuickJS compiled to WebAssembly, one execution at a time, each in a fresh QuickJS
// runtime, and reaches the host only through the IPC channel. Plain JavaScript so that Node starts it
// as it is, from the source tree or an installed app alike.
import {
	newQuickJSWASMModuleFromVariant,
	newVariant,
	RELEASE_SYNC,
	Scope
} from 'quickjs-emscripten';

/**
 * @typedef {import('quickjs-emscripten').QuickJSHandle} QuickJSHandle
 * @typedef {import('quickjs-emscripten').QuickJSDeferredPromise} QuickJSDeferredPromise
 * @typedef {import('./protocol.ts').RunMessage} RunMessage
 * @typedef {import('./protocol.ts').HostMessage} HostMessage
 * @typedef {import('./protocol.ts').FetchReplyMessage} FetchReplyMessage
 * @typedef {import('./protocol.ts').RunnerResult} RunnerResult
 * @typedef {import('./protocol.ts').RunnerMessage} RunnerMessage
 * @typedef {import('./protocol.ts').SandboxError} SandboxError
 * @typedef {import('./protocol.ts').SandboxLogEntry} SandboxLogEntry
 */

const maxErrorMessageChars = 2000;
const wasmPageBytes = 64 * 1024;
// What the QuickJS build starts with (its INITIAL_MEMORY): static data, its 5 MB stack, a first heap.
const initialWasmPages = 256;
const logLevels = new Set(['log', 'info', 'warn', 'error']);
const exhaustionCodes = new Set(['timeout', 'out_of_memory', 'stack_overflow']);

/**
 * Evaluated in each fresh context before the guest code. It installs `console` (and `fetch` when
 * allowed) and returns the helpers the runner calls; the host functions it receives stay in its
 * closure, out of the guest's reach. It keeps its own references to the built-ins it uses, so a guest
 * that rewrites prototypes only garbles its own logs or output, never the runner's view of them.
 */
const guestPrelude = String.raw`(function (hostLog, hostFetch, maxLogLineChars) {
	'use strict';
	const { stringify, parse } = JSON;
	const { defineProperty, getPrototypeOf, keys } = Object;
	const { isArray } = Array;
	const call = Function.prototype.call;
	const slice = call.bind(String.prototype.slice);
	const map = call.bind(Array.prototype.map);
	const join = call.bind(Array.prototype.join);
	const toText = String;
	const ErrorType = Error;
	const TypeErrorType = TypeError;
	const objectPrototype = Object.prototype;
	const AsyncFunction = (async function () {}).constructor;

	function format(value) {
		if (typeof value === 'string') return value;
		if (value instanceof ErrorType) return toText(value.name) + ': ' + toText(value.message);
		try {
			const text = stringify(value);
			if (text !== undefined) return text;
		} catch {}
		try {
			return toText(value);
		} catch {
			return '[unprintable value]';
		}
	}

	let logging = true;
	function log(level, args) {
		if (!logging) return;
		let line = join(map(args, format), ' ');
		if (line.length > maxLogLineChars) line = slice(line, 0, maxLogLineChars) + '…';
		logging = hostLog(level, line);
	}
	defineProperty(globalThis, 'console', {
		value: {
			log: (...args) => log('log', args),
			info: (...args) => log('info', args),
			warn: (...args) => log('warn', args),
			error: (...args) => log('error', args)
		},
		writable: true,
		configurable: true
	});

	if (hostFetch !== undefined) {
		const fetch = async function fetch(url, options) {
			if (typeof url !== 'string') throw new TypeErrorType('fetch: the URL must be a string');
			const init = options === undefined || options === null ? {} : options;
			const method = init.method === undefined ? 'GET' : init.method;
			if (typeof method !== 'string') throw new TypeErrorType('fetch: method must be a string');
			const headers = {};
			if (init.headers !== undefined) {
				if (init.headers === null || typeof init.headers !== 'object' || isArray(init.headers))
					throw new TypeErrorType('fetch: headers must be an object of strings');
				for (const name of keys(init.headers)) {
					const value = init.headers[name];
					if (typeof value !== 'string')
						throw new TypeErrorType('fetch: header "' + name + '" must be a string');
					headers[name] = value;
				}
			}
			const body = init.body;
			if (body !== undefined && typeof body !== 'string')
				throw new TypeErrorType('fetch: body must be a string (JSON.stringify it)');
			const reply = parse(await hostFetch(stringify({ url, method, headers, body })));
			const text = reply.body;
			return {
				status: reply.status,
				ok: reply.status >= 200 && reply.status < 300,
				headers: reply.headers,
				text: async () => text,
				json: async () => parse(text)
			};
		};
		defineProperty(globalThis, 'fetch', { value: fetch, writable: true, configurable: true });
	}

	function start(source, inputText, dataText) {
		const run = new AsyncFunction('input', 'data', source);
		return run(parse(inputText), parse(dataText));
	}

	class NotJson {
		constructor(message) {
			this.message = message;
		}
	}
	function describeObject(value) {
		const constructor = getPrototypeOf(value).constructor;
		const name = typeof constructor === 'function' ? toText(constructor.name) : '';
		return name === '' ? 'an object with a custom prototype' : 'a ' + slice(name, 0, 100);
	}
	// JSON text of the output, or { notJson } when the output is not plain JSON data (functions,
	// symbols, BigInt, cycles, Map and other class instances). Undefined properties are dropped and
	// NaN becomes null, as JSON.stringify does.
	function serialize(output) {
		try {
			const text = stringify(output, function (key, value) {
				const where = key === '' ? '' : ' at "' + slice(key, 0, 100) + '"';
				const type = typeof value;
				if (type === 'function' || type === 'symbol' || type === 'bigint')
					throw new NotJson('a ' + type + where);
				if (type === 'object' && value !== null && !isArray(value)) {
					const prototype = getPrototypeOf(value);
					if (prototype !== objectPrototype && prototype !== null)
						throw new NotJson(describeObject(value) + where);
				}
				return value;
			});
			return text === undefined ? 'null' : text;
		} catch (error) {
			if (error instanceof NotJson) return { notJson: error.message };
			if (error instanceof TypeErrorType) return { notJson: toText(error.message) };
			throw error;
		}
	}

	return { start, serialize };
})`;

/** Guest code failed in a way that ends the execution with this error. */
class ExecutionFailure extends Error {
	/** @param {SandboxError} error */
	constructor(error) {
		super(error.message);
		this.sandboxError = error;
	}
}

/** @param {number} bytes */
function formatBytes(bytes) {
	return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/** @param {string} text */
function capMessage(text) {
	return text.length > maxErrorMessageChars ? `${text.slice(0, maxErrorMessageChars)}…` : text;
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isRecord(value) {
	return typeof value === 'object' && value !== null;
}

/**
 * @param {unknown} value
 * @returns {value is import('./protocol.ts').SandboxFetchRequest}
 */
function isFetchRequest(value) {
	return (
		isRecord(value) &&
		typeof value.url === 'string' &&
		typeof value.method === 'string' &&
		isRecord(value.headers) &&
		Object.values(value.headers).every((header) => typeof header === 'string') &&
		(value.body === undefined || typeof value.body === 'string')
	);
}

/**
 * The line in the guest's source that a QuickJS stack points at. The function constructor puts two
 * lines (`async function anonymous(input,data` and `) {`) before the source, in a file named <input>.
 * @param {string} stack
 */
function sourceLine(stack) {
	const match = /<input>:(\d+)/.exec(stack);
	return match ? ` (line ${Math.max(1, Number(match[1]) - 2)})` : '';
}

/** One execution of guest code in a fresh QuickJS runtime. */
class Execution {
	/** @type {SandboxLogEntry[]} */
	logs = [];
	/** @type {Map<number, QuickJSDeferredPromise>} */
	pendingFetches = new Map();
	nextRequestId = 0;
	/** Wakes the main loop when a fetch reply arrives. */
	wake = () => {};
	/** Set when a host error came out of WebAssembly: nothing in the module is safe to touch. */
	poisoned = false;

	/**
	 * @param {QuickJSInstance} instance
	 * @param {RunMessage} request
	 */
	constructor(instance, request) {
		this.request = request;
		this.limits = request.limits;
		this.memory = instance.memory;
		this.deadline = Date.now() + request.limits.timeoutMs;
		this.runtime = instance.quickjs.newRuntime();
		this.runtime.setMemoryLimit(this.limits.memoryLimitBytes);
		this.runtime.setMaxStackSize(this.limits.maxStackBytes);
		this.runtime.setInterruptHandler(() => Date.now() > this.deadline);
		this.context = this.runtime.newContext();
	}

	/** @returns {Promise<RunnerResult>} */
	async run() {
		const scope = new Scope();
		try {
			const output = await this.evaluate(scope);
			return { ok: true, output, logs: this.logs };
		} catch (error) {
			if (error instanceof ExecutionFailure)
				return { ok: false, error: error.sandboxError, logs: this.logs };
			this.poisoned = true;
			throw error;
		} finally {
			if (!this.poisoned) {
				for (const deferred of this.pendingFetches.values()) deferred.dispose();
				scope.dispose();
			}
		}
	}

	/** @param {InstanceType<typeof Scope>} scope @returns {Promise<string>} */
	async evaluate(scope) {
		const { context } = this;
		const hostLog = scope.manage(
			context.newFunction('log', (level, line) => this.log(level, line))
		);
		const hostFetch = this.request.allowFetch
			? scope.manage(context.newFunction('fetch', (request) => this.fetch(request)))
			: context.undefined;
		const prelude = scope.manage(this.expect(context.evalCode(guestPrelude, 'prelude.js')));
		const helpers = scope.manage(
			this.expect(
				context.callFunction(
					prelude,
					context.undefined,
					hostLog,
					hostFetch,
					scope.manage(context.newNumber(this.limits.maxLogLineChars))
				)
			)
		);
		const start = scope.manage(context.getProp(helpers, 'start'));
		const serialize = scope.manage(context.getProp(helpers, 'serialize'));
		const promise = scope.manage(
			this.expect(
				context.callFunction(
					start,
					context.undefined,
					scope.manage(context.newString(this.request.source)),
					scope.manage(context.newString(this.request.input)),
					scope.manage(context.newString(this.request.data))
				),
				'syntax_error'
			)
		);
		const value = scope.manage(await this.settle(promise));
		const serialized = scope.manage(
			this.expect(context.callFunction(serialize, context.undefined, value))
		);
		if (context.typeof(serialized) !== 'string') {
			const problem = context
				.getProp(serialized, 'notJson')
				.consume((handle) => context.getString(handle));
			throw new ExecutionFailure({
				code: 'not_json',
				message: `The output is not JSON: ${problem}.`
			});
		}
		const tooLarge = new ExecutionFailure({
			code: 'output_too_large',
			message: `The output is larger than ${formatBytes(this.limits.maxOutputBytes)} as JSON.`
		});
		// A UTF-16 length above the cap means at least that many UTF-8 bytes: no need to copy it out.
		const length = context.getProp(serialized, 'length').consume((n) => context.getNumber(n));
		if (length > this.limits.maxOutputBytes) throw tooLarge;
		const text = context.getString(serialized);
		if (Buffer.byteLength(text) > this.limits.maxOutputBytes) throw tooLarge;
		return text;
	}

	/**
	 * Runs the guest's jobs until its promise settles, waiting for fetch replies in between.
	 * @param {QuickJSHandle} promise
	 * @returns {Promise<QuickJSHandle>} the fulfilled value
	 */
	async settle(promise) {
		const { context, runtime } = this;
		for (;;) {
			const jobs = runtime.executePendingJobs();
			if (jobs.error) throw this.failure(jobs.error);
			const state = context.getPromiseState(promise);
			if (state.type === 'fulfilled') return state.notAPromise ? promise.dup() : state.value;
			if (state.type === 'rejected') throw this.failure(state.error);
			if (Date.now() > this.deadline) throw this.timeout();
			if (this.pendingFetches.size === 0) {
				// No job left and nothing to wait for: nothing can ever settle the promise.
				throw new ExecutionFailure({
					code: 'timeout',
					message: 'The code awaits a promise that never settles.'
				});
			}
			await new Promise((resolve) => {
				const timer = setTimeout(resolve, this.deadline - Date.now() + 1);
				this.wake = () => {
					clearTimeout(timer);
					resolve(undefined);
				};
			});
		}
	}

	/**
	 * @param {import('quickjs-emscripten').VmCallResult<QuickJSHandle>} result
	 * @param {'syntax_error'} [syntaxCode] what a SyntaxError thrown here means
	 */
	expect(result, syntaxCode) {
		if (result.error) throw this.failure(result.error, syntaxCode);
		return result.value;
	}

	outOfMemory() {
		return new ExecutionFailure({
			code: 'out_of_memory',
			message: `The code used more than ${formatBytes(this.limits.memoryLimitBytes)} of memory.`
		});
	}

	timeout() {
		return new ExecutionFailure({
			code: 'timeout',
			message: `The code ran longer than ${this.limits.timeoutMs} ms.`
		});
	}

	/**
	 * Turns a thrown guest value into the execution's error, and disposes it.
	 * @param {QuickJSHandle} thrown
	 * @param {'syntax_error'} [syntaxCode]
	 */
	failure(thrown, syntaxCode) {
		if (Date.now() > this.deadline) {
			thrown.dispose();
			return this.timeout();
		}
		/** @type {unknown} */
		let dumped;
		try {
			dumped = this.context.dump(thrown);
		} catch {
			dumped = undefined;
		} finally {
			if (thrown.alive) thrown.dispose();
		}
		const name = isRecord(dumped) && typeof dumped.name === 'string' ? dumped.name : '';
		const message = isRecord(dumped) && typeof dumped.message === 'string' ? dumped.message : '';
		const stack = isRecord(dumped) && typeof dumped.stack === 'string' ? dumped.stack : '';
		if (name === 'InternalError' && message === 'interrupted') return this.timeout();
		if (name === 'InternalError' && message === 'out of memory') return this.outOfMemory();
		if (name === 'InternalError' && message === 'stack overflow') return stackOverflow();
		if (name === '' && message === '') {
			// With no memory left even for its error object, QuickJS throws null. Either limit (its
			// allocation count, our heap cap) can be the one reached; both leave the heap well used.
			const heapWellUsed =
				this.memory.buffer.byteLength * 2 >= maxMemoryBytes(this.limits.memoryLimitBytes);
			if ((dumped === null || dumped === undefined) && heapWellUsed) return this.outOfMemory();
			const shown =
				dumped === undefined || dumped === ''
					? 'a value that cannot be shown'
					: JSON.stringify(dumped);
			return new ExecutionFailure({
				code: 'runtime_error',
				message: capMessage(`Uncaught ${shown}`)
			});
		}
		return new ExecutionFailure({
			code: name === 'SyntaxError' && syntaxCode ? syntaxCode : 'runtime_error',
			message: capMessage(`${name}: ${message}${sourceLine(stack)}`)
		});
	}

	/**
	 * `console.*` from the guest. Answers whether to keep sending lines.
	 * @param {QuickJSHandle} levelHandle
	 * @param {QuickJSHandle} lineHandle
	 */
	log(levelHandle, lineHandle) {
		const { context, limits, logs } = this;
		if (logs.length > limits.maxLogLines) return context.false;
		const level = context.getString(levelHandle);
		if (!logLevels.has(level)) return context.false;
		if (logs.length === limits.maxLogLines) {
			logs.push({
				level: 'warn',
				message: `(log truncated: more than ${limits.maxLogLines} lines)`
			});
			return context.false;
		}
		const line = context.getString(lineHandle);
		logs.push({
			level: /** @type {SandboxLogEntry['level']} */ (level),
			message:
				line.length > limits.maxLogLineChars + 1 ? line.slice(0, limits.maxLogLineChars) : line
		});
		return context.true;
	}

	/**
	 * `fetch` from the guest: forwarded to the host, which answers with a `fetch-reply` message.
	 * @param {QuickJSHandle} requestHandle
	 */
	fetch(requestHandle) {
		const { context } = this;
		/** @type {unknown} */
		let request;
		try {
			request = JSON.parse(context.getString(requestHandle));
		} catch {
			request = undefined;
		}
		const deferred = context.newPromise();
		if (!isFetchRequest(request)) {
			// The guest can bend the prelude's JSON.stringify (a toJSON on Object.prototype).
			context
				.newError({ name: 'TypeError', message: 'fetch: invalid request' })
				.consume((error) => deferred.reject(error));
			return deferred.handle;
		}
		const requestId = ++this.nextRequestId;
		this.pendingFetches.set(requestId, deferred);
		send({ type: 'fetch', id: this.request.id, requestId, request });
		return deferred.handle;
	}

	/** @param {FetchReplyMessage} reply */
	settleFetch(reply) {
		const deferred = this.pendingFetches.get(reply.requestId);
		if (!deferred) return;
		this.pendingFetches.delete(reply.requestId);
		const { context } = this;
		try {
			if ('response' in reply) {
				context.newString(JSON.stringify(reply.response)).consume((text) => deferred.resolve(text));
			} else {
				context
					.newError({ name: 'TypeError', message: `fetch failed: ${reply.error}` })
					.consume((error) => deferred.reject(error));
			}
		} catch {
			// Out of memory or past the deadline: the main loop reports it.
		} finally {
			deferred.dispose();
			this.wake();
		}
	}

	dispose() {
		this.context.dispose();
		this.runtime.dispose();
	}
}

function stackOverflow() {
	return new ExecutionFailure({
		code: 'stack_overflow',
		message: 'The code exceeded the stack size limit (recursion too deep).'
	});
}

/** @param {RunnerMessage} message @param {() => void} [then] */
function send(message, then) {
	process.send?.(message, undefined, undefined, () => then?.());
}

/**
 * QuickJS counts allocations, not bytes, under WebAssembly (its malloc_usable_size is 0 there), so
 * its own memory limit only stops single allocations above it. The real limit is the WebAssembly
 * memory we give the module: it cannot grow past the limit plus the module's initial memory.
 * @param {number} memoryLimitBytes
 */
function maxMemoryBytes(memoryLimitBytes) {
	return (initialWasmPages + Math.ceil(memoryLimitBytes / wasmPageBytes)) * wasmPageBytes;
}

/** @typedef {{ quickjs: import('quickjs-emscripten').QuickJSWASMModule, memory: WebAssembly.Memory, maxBytes: number }} QuickJSInstance */

/** @type {QuickJSInstance | null} */
let instance = null;

/**
 * The QuickJS module for these limits, kept while the limit stays the same: each execution still
 * gets its own QuickJS runtime, whose objects no other runtime can reach.
 * @param {number} memoryLimitBytes
 * @returns {Promise<QuickJSInstance>}
 */
async function quickjsFor(memoryLimitBytes) {
	const maxBytes = maxMemoryBytes(memoryLimitBytes);
	if (instance?.maxBytes !== maxBytes) {
		instance = null;
		const memory = new WebAssembly.Memory({
			initial: initialWasmPages,
			maximum: maxBytes / wasmPageBytes
		});
		const variant = newVariant(RELEASE_SYNC, { wasmMemory: memory });
		instance = { quickjs: await newQuickJSWASMModuleFromVariant(variant), memory, maxBytes };
	}
	return instance;
}

/** @type {Execution | null} */
let current = null;

/** @param {RunMessage} request */
async function runRequest(request) {
	/** @type {RunnerResult} */
	let result;
	// A host error out of WebAssembly (V8's own stack overflowing under QuickJS's native recursion,
	// a trap) leaves the QuickJS module in an unknown state: answer, then exit for a fresh runner.
	let poisoned = false;
	/** @type {Execution | undefined} */
	let execution;
	try {
		execution = new Execution(await quickjsFor(request.limits.memoryLimitBytes), request);
		current = execution;
		result = await execution.run();
	} catch (error) {
		poisoned = true;
		result = {
			ok: false,
			error:
				error instanceof RangeError
					? stackOverflow().sandboxError
					: { code: 'runner_crashed', message: 'The code runner failed.' },
			logs: execution?.logs ?? []
		};
	} finally {
		current = null;
	}
	// After these the pool replaces this runner (pool.ts `recycledAfter`), and freeing a runtime
	// that was cut off mid-job can trip QuickJS's own assertions: leave it to the exit.
	if (!result.ok && exhaustionCodes.has(result.error.code)) poisoned = true;
	if (!poisoned) {
		try {
			execution?.dispose();
		} catch {
			poisoned = true;
		}
	}
	send({ type: 'result', id: request.id, result }, () => {
		if (poisoned) process.exit(1);
	});
}

process.on('message', (/** @type {HostMessage} */ message) => {
	if (message.type === 'run') {
		if (current === null) void runRequest(message);
	} else if (message.type === 'fetch-reply') {
		if (current?.request.id === message.id) current.settleFetch(message);
	}
});
process.on('disconnect', () => process.exit(0));
// Loaded before saying ready, for the pool's memory limit (our argument), so runs start warm.
await quickjsFor(Number(process.argv[2]));
send({ type: 'ready' });
