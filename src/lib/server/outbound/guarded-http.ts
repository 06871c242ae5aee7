import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { blockedRange } from './addresses.ts';
import { allowListMatcher } from './allow-list.ts';
import type { HttpAllowEntry } from '../platform/http-allow.ts';

export type OutboundHttpErrorCode =
	| 'invalid_url'
	| 'unsupported_scheme'
	| 'invalid_request'
	| 'blocked_address'
	| 'dns_failed'
	| 'connect_failed'
	| 'tls_failed'
	| 'timeout'
	| 'aborted'
	| 'too_many_redirects'
	| 'invalid_redirect'
	| 'response_too_large'
	| 'response_failed';

/** Why an outbound request failed. The message names at most an origin: never a path or a header. */
export class OutboundHttpError extends Error {
	override name = 'OutboundHttpError';
	readonly code: OutboundHttpErrorCode;

	constructor(code: OutboundHttpErrorCode, message: string, options?: ErrorOptions) {
		super(message, options);
		this.code = code;
	}
}

export interface GuardedHttpOptions {
	/** host:port entries exempt from the blocked-range checks (AWE_HTTP_ALLOW). */
	allow?: readonly HttpAllowEntry[];
	/** The most a response body may hold; a request may ask for less. Default 5 MiB. */
	maxResponseBytes?: number;
	/** For a whole request, redirects and body included; a request may ask for less. Default 30 s. */
	timeoutMs?: number;
	/** For each new connection, TLS handshake included. Default 10 s. */
	connectTimeoutMs?: number;
	/** Default 5. */
	maxRedirects?: number;
	/** A host name's addresses; the system resolver (dns.lookup) unless a test maps names itself. */
	resolve?: (hostname: string) => Promise<string[]>;
}

export interface OutboundRequest {
	/** Default GET. */
	method?: string;
	url: string | URL;
	headers?: HeadersInit;
	body?: string | Uint8Array;
	signal?: AbortSignal;
	maxResponseBytes?: number;
	timeoutMs?: number;
}

export interface OutboundResponse {
	status: number;
	headers: Headers;
	body: Buffer;
	/** The URL that answered, after redirects. */
	url: string;
	redirects: number;
}

/** A response whose body is still arriving; `open` hands it over at the status line and headers. */
export interface OutboundStream {
	status: number;
	headers: Headers;
	/** Ends when the response does; fails as `request` would (size cap, cut connection, abort). */
	body: AsyncGenerator<Buffer, void, undefined>;
	url: string;
	redirects: number;
	/** Closes the connection: for a body the caller will not read to its end. */
	close(): void;
}

export interface GuardedHttp {
	request(request: OutboundRequest): Promise<OutboundResponse>;
	/**
	 * Sends a request like `request` and resolves at the response head, for bodies read as they
	 * arrive (model streams). No whole-request deadline applies: the caller's signal governs the
	 * exchange until the body ends, and its reason is what a cancelled request fails with.
	 */
	open(request: Omit<OutboundRequest, 'timeoutMs'>): Promise<OutboundStream>;
	/** Closes the idle keep-alive connections. */
	close(): void;
}

const mebibyte = 1024 * 1024;
const defaults = {
	maxResponseBytes: 5 * mebibyte,
	timeoutMs: 30_000,
	connectTimeoutMs: 10_000,
	maxRedirects: 5
};
// setTimeout fires at once for anything longer.
const longestTimer = 2 ** 31 - 1;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const forbiddenMethods = new Set(['CONNECT', 'TRACE', 'TRACK']);
const methodToken = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;
/**
 * Framing and routing are the client's business: fetch ignores these from callers too. Bodies are
 * handed over as the server sent them, so the client asks for no content encoding.
 */
const managedHeaders = new Set([
	'accept-encoding',
	'host',
	'content-length',
	'transfer-encoding',
	'connection',
	'keep-alive',
	'proxy-connection',
	'upgrade',
	'te',
	'trailer',
	'expect'
]);
/** What fetch removes with the body when a redirect turns a request into a GET. */
const bodyHeaders = ['content-type', 'content-encoding', 'content-language', 'content-location'];
/** Dropped when a redirect leaves the origin (fetch drops Authorization); a wide net on purpose. */
const credentialHeader = /auth|cookie|token|secret|key|session|password|signature/i;

export function createGuardedHttp(options: GuardedHttpOptions = {}): GuardedHttp {
	const { maxResponseBytes, timeoutMs, connectTimeoutMs, maxRedirects } = clientLimits(options);
	const allow = allowListMatcher(options.allow ?? []);
	const resolve = options.resolve ?? resolveWithSystem;
	// Our own agents: the global ones follow NODE_USE_ENV_PROXY and http.setGlobalProxyFromEnv.
	const agents = {
		http: new http.Agent({ keepAlive: true }),
		https: new https.Agent({ keepAlive: true })
	};

	/** The addresses to connect to: all of the host's, each allowed or outside the blocked ranges. */
	async function checkedAddresses(url: URL, port: number, signal: AbortSignal) {
		const host = bareHost(url);
		let addresses: string[];
		try {
			addresses = isIP(host) === 0 ? await abortable(resolve(host), signal) : [host];
		} catch (error) {
			if (signal.aborted) throw signal.reason;
			throw new OutboundHttpError('dns_failed', `Could not resolve ${url.hostname}.`, {
				cause: error
			});
		}
		if (addresses.length === 0) {
			throw new OutboundHttpError('dns_failed', `Could not resolve ${url.hostname}.`);
		}
		if (addresses.some((address) => isIP(address) === 0)) {
			throw new OutboundHttpError('dns_failed', `${url.hostname} did not resolve to IP addresses.`);
		}
		const hostAllowed = allow.host(url.hostname, port);
		for (const address of addresses) {
			if (hostAllowed || allow.address(address, port)) continue;
			const range = blockedRange(address);
			if (range === null) continue;
			const where = isIP(host) === 0 ? `${url.hostname} resolves to an address` : 'the address is';
			throw new OutboundHttpError(
				'blocked_address',
				`${url.origin} is blocked: ${where} in a blocked range (${range}). An operator can allow it with AWE_HTTP_ALLOW.`
			);
		}
		return addresses.map((address): LookupAddress => ({ address, family: isIP(address) }));
	}

	function send(
		exchange: Exchange,
		port: number,
		addresses: LookupAddress[],
		signal: AbortSignal
	): Promise<http.IncomingMessage> {
		const { url, method, headers, body } = exchange;
		const secure = url.protocol === 'https:';
		return new Promise((resolvePromise, reject) => {
			// An abort listener added now would never fire.
			if (signal.aborted) {
				reject(signal.reason as Error);
				return;
			}
			let phase: ConnectionPhase = 'connecting';
			let request: http.ClientRequest;
			try {
				request = (secure ? https : http).request({
					agent: secure ? agents.https : agents.http,
					// TLS still verifies the certificate for, and sends SNI with, the name in the URL.
					hostname: bareHost(url),
					port,
					path: url.pathname + url.search,
					method,
					headers: body === null ? headers : { ...headers, 'content-length': body.length },
					lookup: pinnedLookup(addresses)
				});
			} catch (error) {
				// Node refuses control characters in header values; its message may quote the value.
				const message = `A request header has an invalid name or value (${errorCode(error)}).`;
				reject(new OutboundHttpError('invalid_request', message));
				return;
			}
			const onAbort = () => request.destroy(signal.reason as Error);
			signal.addEventListener('abort', onAbort, { once: true });
			request.on('socket', (socket) => {
				if (!socket.connecting) {
					phase = 'ready';
					return;
				}
				const timer = setTimeout(() => {
					const within = formatDuration(connectTimeoutMs);
					const message = `Could not connect to ${url.origin} within ${within}.`;
					request.destroy(new OutboundHttpError('connect_failed', message));
				}, connectTimeoutMs);
				socket.once('connect', () => {
					phase = secure ? 'handshake' : 'ready';
					if (!secure) clearTimeout(timer);
				});
				socket.once('secureConnect', () => {
					phase = 'ready';
					clearTimeout(timer);
				});
				socket.once('close', () => clearTimeout(timer));
			});
			request.once('response', (response) => {
				signal.removeEventListener('abort', onAbort);
				resolvePromise(response);
			});
			// `on`, not `once`: a second error with no listener would crash the process.
			request.on('error', (error) => {
				signal.removeEventListener('abort', onAbort);
				reject(connectionError(error, url, phase));
			});
			request.end(body ?? undefined);
		});
	}

	/** Sends the request, follows its redirects and resolves at the final response head. */
	async function follow(input: OutboundRequest, signal: AbortSignal) {
		let exchange = firstExchange(input);
		for (let redirects = 0; ; redirects++) {
			const { url } = exchange;
			const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
			const addresses = await checkedAddresses(url, port, signal);
			const response = await send(exchange, port, addresses, signal);
			const status = response.statusCode ?? 0;
			const location = redirectStatuses.has(status) ? response.headers.location : undefined;
			if (location === undefined) return { response, exchange, status, redirects };
			response.destroy();
			if (redirects >= maxRedirects) {
				throw new OutboundHttpError(
					'too_many_redirects',
					`Stopped after ${maxRedirects} redirects; ${url.origin} redirects again.`
				);
			}
			exchange = redirectedExchange(exchange, status, location);
		}
	}

	async function request(input: OutboundRequest): Promise<OutboundResponse> {
		const bodyLimit = requestLimit('maxResponseBytes', input.maxResponseBytes, maxResponseBytes);
		const time = requestLimit('timeoutMs', input.timeoutMs, timeoutMs);
		const deadline = new AbortController();
		const timer = setTimeout(() => {
			const message = `The request did not finish within ${formatDuration(time)}.`;
			deadline.abort(new OutboundHttpError('timeout', message));
		}, time);
		const cancel = () =>
			deadline.abort(new OutboundHttpError('aborted', 'The request was cancelled.'));
		if (input.signal?.aborted) cancel();
		input.signal?.addEventListener('abort', cancel, { once: true });
		try {
			const { response, exchange, status, redirects } = await follow(input, deadline.signal);
			destroyOnAbort(response, deadline.signal);
			const body = await readBody(bodyChunks(response, exchange, bodyLimit, deadline.signal));
			const headers = responseHeaders(response.rawHeaders);
			return { status, headers, body, url: exchange.url.href, redirects };
		} catch (error) {
			throw outboundError(error, deadline.signal);
		} finally {
			clearTimeout(timer);
			input.signal?.removeEventListener('abort', cancel);
		}
	}

	async function open(input: Omit<OutboundRequest, 'timeoutMs'>): Promise<OutboundStream> {
		const bodyLimit = requestLimit('maxResponseBytes', input.maxResponseBytes, maxResponseBytes);
		const signal = input.signal ?? new AbortController().signal;
		try {
			const { response, exchange, status, redirects } = await follow(input, signal);
			destroyOnAbort(response, signal);
			return {
				status,
				headers: responseHeaders(response.rawHeaders),
				body: bodyChunks(response, exchange, bodyLimit, signal),
				url: exchange.url.href,
				redirects,
				close: () => response.destroy()
			};
		} catch (error) {
			throw outboundError(error, signal);
		}
	}

	return {
		request,
		open,
		close() {
			agents.http.destroy();
			agents.https.destroy();
		}
	};
}

type ConnectionPhase = 'connecting' | 'handshake' | 'ready';

/** One hop: what is sent where. Redirects derive the next one from it. */
interface Exchange {
	url: URL;
	method: string;
	headers: Record<string, string>;
	body: Buffer | null;
}

function firstExchange(input: OutboundRequest): Exchange {
	const value = String(input.url);
	if (!URL.canParse(value)) throw new OutboundHttpError('invalid_url', 'The URL is not valid.');
	const url = checkedTarget(new URL(value), 'The URL', 'invalid_url');
	const method = (input.method ?? 'GET').toUpperCase();
	if (!methodToken.test(method)) {
		throw new OutboundHttpError('invalid_request', 'The method is not a valid HTTP method.');
	}
	if (forbiddenMethods.has(method)) {
		throw new OutboundHttpError('invalid_request', `The ${method} method is not allowed.`);
	}
	const body = input.body === undefined ? null : Buffer.from(input.body);
	if (body !== null && (method === 'GET' || method === 'HEAD')) {
		throw new OutboundHttpError('invalid_request', `A ${method} request cannot have a body.`);
	}
	return { url, method, headers: requestHeaders(input.headers), body };
}

/** The next hop, as fetch makes it: a GET without body after 303 (and 301/302 after POST). */
function redirectedExchange(previous: Exchange, status: number, location: string): Exchange {
	const from = `The redirect from ${previous.url.origin}`;
	if (!URL.canParse(location, previous.url)) {
		throw new OutboundHttpError('invalid_redirect', `${from} points to a URL that is not valid.`);
	}
	const url = checkedTarget(new URL(location, previous.url), from, 'invalid_redirect');
	let { method, body } = previous;
	const headers = { ...previous.headers };
	const becomesGet =
		(status === 303 && method !== 'GET' && method !== 'HEAD') ||
		((status === 301 || status === 302) && method === 'POST');
	if (becomesGet) {
		method = 'GET';
		body = null;
		for (const name of bodyHeaders) delete headers[name];
	}
	if (url.origin !== previous.url.origin) {
		for (const name of Object.keys(headers)) {
			if (credentialHeader.test(name)) delete headers[name];
		}
	}
	return { url, method, headers, body };
}

function checkedTarget(url: URL, what: string, credentialsCode: OutboundHttpErrorCode): URL {
	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		throw new OutboundHttpError(
			'unsupported_scheme',
			`${what} uses ${url.protocol}; only http: and https: are allowed.`
		);
	}
	if (url.username !== '' || url.password !== '') {
		throw new OutboundHttpError(
			credentialsCode,
			`${what} contains a user name or password; send credentials in a header instead.`
		);
	}
	url.hash = '';
	return url;
}

function requestHeaders(input: OutboundRequest['headers'] = {}): Record<string, string> {
	let parsed: Headers;
	try {
		parsed = new Headers(input);
	} catch {
		// The parser's own message may quote the value, which may be a secret.
		throw new OutboundHttpError(
			'invalid_request',
			'A request header has an invalid name or value.'
		);
	}
	const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'AWE' };
	for (const [name, value] of parsed) {
		if (!managedHeaders.has(name)) headers[name] = value;
	}
	return headers;
}

function responseHeaders(raw: string[]): Headers {
	const headers = new Headers();
	for (let index = 0; index + 1 < raw.length; index += 2) {
		headers.append(raw[index] ?? '', raw[index + 1] ?? '');
	}
	return headers;
}

/**
 * The body's chunks as they arrive, within the size limit. A cancelled or timed-out exchange fails
 * with the signal's reason; stopping early (`return()`) closes the connection.
 */
async function* bodyChunks(
	response: http.IncomingMessage,
	{ url, method }: Exchange,
	limit: number,
	signal: AbortSignal
): AsyncGenerator<Buffer, void, undefined> {
	const tooLarge = () =>
		new OutboundHttpError(
			'response_too_large',
			`The response from ${url.origin} is larger than ${formatBytes(limit)}.`
		);
	// A HEAD response's Content-Length describes a body that never comes.
	if (method !== 'HEAD' && Number(response.headers['content-length']) > limit) {
		response.destroy();
		throw tooLarge();
	}
	if (signal.aborted) {
		response.destroy();
		throw signal.reason as Error;
	}
	let size = 0;
	try {
		for await (const chunk of response as AsyncIterable<Buffer>) {
			size += chunk.length;
			if (size > limit) {
				response.destroy();
				throw tooLarge();
			}
			yield chunk;
		}
	} catch (error) {
		throw outboundError(connectionError(error, url, 'ready'), signal);
	}
}

/** Closes the connection the moment the signal fires, until the response is over. */
function destroyOnAbort(response: http.IncomingMessage, signal: AbortSignal): void {
	const onAbort = () => response.destroy(signal.reason as Error);
	signal.addEventListener('abort', onAbort, { once: true });
	response.once('close', () => signal.removeEventListener('abort', onAbort));
}

async function readBody(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
	const collected: Buffer[] = [];
	for await (const chunk of chunks) collected.push(chunk);
	return Buffer.concat(collected);
}

/** What a failed exchange rejects with: the abort reason once the signal fired, else an outbound error. */
function outboundError(error: unknown, signal: AbortSignal): unknown {
	if (signal.aborted) return signal.reason;
	if (error instanceof OutboundHttpError) return error;
	return new OutboundHttpError('response_failed', 'The request failed.', { cause: error });
}

function connectionError(error: unknown, url: URL, phase: ConnectionPhase): OutboundHttpError {
	if (error instanceof OutboundHttpError) return error;
	const code = errorCode(error);
	const detail = code === '' ? '' : ` (${code})`;
	const options = { cause: error };
	if (phase === 'connecting') {
		return new OutboundHttpError(
			'connect_failed',
			`Could not connect to ${url.origin}${detail}.`,
			options
		);
	}
	if (phase === 'handshake') {
		const message = `The TLS handshake with ${url.origin} failed${detail}.`;
		return new OutboundHttpError('tls_failed', message, options);
	}
	const message = `The connection to ${url.origin} failed before the response was complete${detail}.`;
	return new OutboundHttpError('response_failed', message, options);
}

/** A Node error code such as ECONNREFUSED, also from the AggregateError of a dual-stack connect. */
function errorCode(error: unknown): string {
	const { code, errors } = (error ?? {}) as { code?: unknown; errors?: { code?: unknown }[] };
	const found = code ?? errors?.[0]?.code;
	return typeof found === 'string' && /^[A-Z0-9_]+$/.test(found) ? found : '';
}

/** Hands Node only the addresses already checked, so DNS cannot answer differently a second time. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
	return (_hostname, options, callback) => {
		const [first] = addresses;
		if (options.all) callback(null, addresses);
		else callback(null, first?.address ?? '', first?.family);
	};
}

async function resolveWithSystem(hostname: string): Promise<string[]> {
	return (await lookup(hostname, { all: true })).map(({ address }) => address);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
	return new Promise((resolve, reject) => {
		const onAbort = () => reject(signal.reason);
		if (signal.aborted) onAbort();
		signal.addEventListener('abort', onAbort, { once: true });
		promise.then(
			(value) => {
				signal.removeEventListener('abort', onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener('abort', onAbort);
				reject(error);
			}
		);
	});
}

function bareHost(url: URL): string {
	return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function clientLimits(options: GuardedHttpOptions): typeof defaults {
	const limits = { ...defaults };
	for (const name of Object.keys(defaults) as (keyof typeof defaults)[]) {
		const value = options[name] ?? defaults[name];
		const min = name === 'maxRedirects' ? 0 : 1;
		const max = name.endsWith('Ms') ? longestTimer : Number.MAX_SAFE_INTEGER;
		if (!Number.isSafeInteger(value) || value < min || value > max) {
			throw new RangeError(`${name} must be a whole number from ${min} to ${max}.`);
		}
		limits[name] = value;
	}
	return limits;
}

/** A request may tighten the client's limits, never loosen them. */
function requestLimit(name: string, value: number | undefined, clientValue: number): number {
	if (value === undefined) return clientValue;
	if (!Number.isSafeInteger(value) || value < 1) {
		throw new OutboundHttpError('invalid_request', `${name} must be a positive whole number.`);
	}
	return Math.min(value, clientValue);
}

function formatDuration(ms: number): string {
	return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function formatBytes(bytes: number): string {
	if (bytes % mebibyte === 0) return `${bytes / mebibyte} MiB`;
	if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
	return `${bytes} bytes`;
}
