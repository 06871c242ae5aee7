import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch, type GuardedFetchOptions } from './guarded-fetch.ts';
import { createGuardedHttp, OutboundHttpError, type GuardedHttp } from './guarded-http.ts';
import { startTestServer, type TestServer } from './test-server.ts';

let server: TestServer;
const clients: GuardedHttp[] = [];
/** Responses the server holds open until a test ends them. */
const held = new Map<string, ServerResponse>();
/** Resolves when the server sees the connection of the held response named so close. */
const closed = new Map<string, Promise<void>>();

function respond(
	request: { url: string; method: string; headers: object; body: string },
	response: ServerResponse,
	incoming: IncomingMessage
) {
	const url = new URL(request.url, 'http://local');
	const name = url.searchParams.get('name') ?? '';
	switch (url.pathname) {
		case '/hold':
			// Sends one chunk, then waits: the client must see it before the response ends.
			response.writeHead(200, { 'content-type': 'text/event-stream' });
			response.write('data: first\n\n');
			held.set(name, response);
			closed.set(name, new Promise((resolve) => incoming.socket.once('close', () => resolve())));
			return;
		case '/hang':
			return;
		case '/large':
			response.writeHead(200);
			response.end(Buffer.alloc(256 * 1024, 'a'));
			return;
		case '/empty':
			response.writeHead(204).end();
			return;
		case '/to':
			response.writeHead(307, { location: url.searchParams.get('location') ?? '/' }).end();
			return;
		default:
			response.setHeader('content-type', 'application/json');
			response.end(JSON.stringify(request));
	}
}

beforeAll(async () => {
	server = await startTestServer(respond);
});

afterAll(async () => {
	for (const client of clients) client.close();
	await server.close();
});

function guardedFetch(options: GuardedFetchOptions = {}, allow = true) {
	const http = createGuardedHttp({
		allow: allow ? [{ host: '127.0.0.1', port: server.port }] : [],
		resolve: (name) => Promise.resolve(name === 'loopback.attacker.test' ? ['127.0.0.1'] : [])
	});
	clients.push(http);
	return createGuardedFetch(http, options);
}

const at = (path: string) => `http://127.0.0.1:${server.port}${path}`;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
	return promise.then(
		() => null,
		(error: unknown) => error
	);
}

describe('guarded fetch', () => {
	it('sends the method, headers and body as fetch would, and answers a standard Response', async () => {
		const response = await guardedFetch()(new URL(at('/echo?q=1')), {
			method: 'POST',
			headers: new Headers({
				'content-type': 'application/json',
				authorization: 'Bearer k',
				'accept-encoding': 'gzip'
			}),
			body: '{"a":1}'
		});
		expect(response).toBeInstanceOf(Response);
		expect(response.status).toBe(200);
		expect(response.url).toBe(at('/echo?q=1'));
		expect(response.headers.get('content-type')).toBe('application/json');
		const echoed = (await response.json()) as {
			method: string;
			body: string;
			headers: Record<string, string>;
		};
		expect(echoed).toMatchObject({ method: 'POST', body: '{"a":1}' });
		expect(echoed.headers).toMatchObject({ authorization: 'Bearer k' });
		// The body reaches the caller as sent: nothing would decompress it.
		expect(echoed.headers['accept-encoding']).toBeUndefined();
	});

	it('streams the body as it arrives, before the response ends', async () => {
		const response = await guardedFetch()(at('/hold?name=stream'));
		const reader = (response.body as ReadableStream<Uint8Array>).getReader();
		const first = await reader.read();
		expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
		const serverSide = held.get('stream');
		expect(serverSide?.writableEnded).toBe(false);
		serverSide?.end('data: last\n\n');
		expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: last\n\n');
		expect((await reader.read()).done).toBe(true);
	});

	it("closes the connection at once when the caller's signal fires mid-stream", async () => {
		const controller = new AbortController();
		const response = await guardedFetch()(at('/hold?name=abort'), { signal: controller.signal });
		const reader = (response.body as ReadableStream<Uint8Array>).getReader();
		await reader.read();
		controller.abort();
		await closed.get('abort');
		expect(held.get('abort')?.writableEnded).toBe(false);
		const error = await rejection(reader.read());
		expect(error).toMatchObject({ name: 'AbortError' });
	});

	it('rejects with the abort reason while waiting for the head', async () => {
		const controller = new AbortController();
		const pending = guardedFetch()(at('/hang'), { signal: controller.signal });
		controller.abort();
		expect(await rejection(pending)).toMatchObject({ name: 'AbortError' });
	});

	it('times out a server that goes quiet, however long the stream has run', async () => {
		const error = await rejection(guardedFetch({ idleTimeoutMs: 200 })(at('/hang')));
		expect(error).toBeInstanceOf(OutboundHttpError);
		expect(error).toMatchObject({ code: 'timeout' });

		const response = await guardedFetch({ idleTimeoutMs: 200 })(at('/hold?name=idle'));
		const reader = (response.body as ReadableStream<Uint8Array>).getReader();
		await reader.read();
		expect(await rejection(reader.read())).toMatchObject({ code: 'timeout' });
		await closed.get('idle');
	});

	it('caps the body while streaming', async () => {
		const response = await guardedFetch({ maxResponseBytes: 64 * 1024 })(at('/large'));
		const error = await rejection(response.arrayBuffer());
		expect(error).toMatchObject({ code: 'response_too_large' });
	});

	it('answers a 204 without a body', async () => {
		const response = await guardedFetch()(at('/empty'));
		expect(response.status).toBe(204);
		expect(response.body).toBeNull();
	});

	it.each([
		'http://127.0.0.1:9/',
		'http://10.0.0.1/',
		'http://169.254.169.254/latest/meta-data/',
		'http://[::1]/',
		'http://loopback.attacker.test/'
	])('refuses %s, a blocked address', async (url) => {
		const error = await rejection(guardedFetch()(url));
		expect(error).toMatchObject({ code: 'blocked_address' });
	});

	it('refuses the local server itself unless it is allow-listed', async () => {
		const before = server.received.length;
		const error = await rejection(guardedFetch({}, false)(at('/echo')));
		expect(error).toMatchObject({ code: 'blocked_address' });
		expect(server.received.length).toBe(before);
	});

	it('re-checks redirects', async () => {
		const location = encodeURIComponent('http://169.254.169.254/latest/');
		const error = await rejection(guardedFetch()(at(`/to?location=${location}`)));
		expect(error).toMatchObject({ code: 'blocked_address' });
	});

	it('refuses other schemes and streamed request bodies', async () => {
		expect(await rejection(guardedFetch()('file:///etc/passwd'))).toMatchObject({
			code: 'unsupported_scheme'
		});
		const body = new ReadableStream({ start: (controller) => controller.close() });
		expect(
			await rejection(
				guardedFetch()(at('/echo'), { method: 'POST', body, duplex: 'half' } as RequestInit)
			)
		).toMatchObject({ code: 'invalid_request' });
	});
});
