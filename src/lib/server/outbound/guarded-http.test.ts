import type { ServerResponse } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	createGuardedHttp,
	OutboundHttpError,
	type GuardedHttp,
	type GuardedHttpOptions
} from './guarded-http.ts';
import { startTestServer, type TestServer } from './test-server.ts';

// A self-signed certificate for awe-tls.test only, valid 2020–2120: test material, trusted only here.
const tlsKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgORsVFL0TTqFBnJ1R
yqE9X+A3VWKWy0/0LbI3HtKQWnGhRANCAAQXx1/2Xzk4iDLlKQwn7z6wtl1BVRgw
EpXNx9sCxKVNpXzGE4lFooh748qF+81d05U2BotT8HGTZ3aE4QKK1sBe
-----END PRIVATE KEY-----
`;
const tlsCertificate = `-----BEGIN CERTIFICATE-----
MIIBajCCARCgAwIBAgIBATAKBggqhkjOPQQDAjAXMRUwEwYDVQQDDAxhd2UtdGxz
LnRlc3QwIBcNMjAwMTAxMDAwMDAwWhgPMjEyMDAxMDEwMDAwMDBaMBcxFTATBgNV
BAMMDGF3ZS10bHMudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBfHX/Zf
OTiIMuUpDCfvPrC2XUFVGDASlc3H2wLEpU2lfMYTiUWiiHvjyoX7zV3TlTYGi1Pw
cZNndoThAorWwF6jSzBJMBcGA1UdEQQQMA6CDGF3ZS10bHMudGVzdDAPBgNVHRMB
Af8EBTADAQH/MB0GA1UdDgQWBBT56Y8dcLs7Zf2wYADJqz2DFtFOWzAKBggqhkjO
PQQDAgNIADBFAiEA8BWFP6y3hud4+5M4AmlEerjj1BhO9qJcArQfj11/Bd8CIHbJ
+vxl7q2F+UHtJM0C7csNVu6EARkn17POVIG91bhr
-----END CERTIFICATE-----
`;

let origin: TestServer;
let other: TestServer;
const clients: GuardedHttp[] = [];

/** A client that may reach both local servers, by IP (127.0.0.1) and by the names it maps. */
function client(options: GuardedHttpOptions = {}, names: Record<string, string[]> = {}) {
	const created = createGuardedHttp({
		allow: [
			{ host: '127.0.0.1', port: origin.port },
			{ host: '127.0.0.1', port: other.port }
		],
		resolve: (name) => Promise.resolve(names[name] ?? []),
		...options
	});
	clients.push(created);
	return created;
}

async function failure(promise: Promise<unknown>): Promise<OutboundHttpError> {
	const error = await promise.then(
		() => null,
		(caught: unknown) => caught
	);
	expect(error).toBeInstanceOf(OutboundHttpError);
	return error as OutboundHttpError;
}

/** Answers `/to?status=…&location=…` with that redirect, `/echo` and anything else with the request. */
function respond(
	request: { url: string; method: string; headers: object; body: string },
	response: ServerResponse
) {
	const url = new URL(request.url, 'http://local');
	if (url.pathname === '/to') {
		response.writeHead(Number(url.searchParams.get('status')), {
			location: url.searchParams.get('location') ?? ''
		});
		response.end('redirecting');
		return;
	}
	if (url.pathname === '/no-location') {
		response.writeHead(302).end('stay');
		return;
	}
	if (url.pathname === '/cut') {
		response.writeHead(200, { 'content-length': '100' });
		response.write('0123456789', () => response.socket?.destroy());
		return;
	}
	response.setHeader('content-type', 'application/json');
	response.setHeader('set-cookie', ['a=1', 'b=2']);
	response.end(JSON.stringify(request));
}

beforeAll(async () => {
	origin = await startTestServer(respond);
	other = await startTestServer(respond);
});

afterAll(async () => {
	for (const created of clients) created.close();
	await Promise.all([origin.close(), other.close()]);
});

const at = (server: TestServer, path = '/echo') => `http://127.0.0.1:${server.port}${path}`;
const redirect = (status: number, location: string) =>
	`/to?status=${status}&location=${encodeURIComponent(location)}`;

describe('guarded HTTP requests', () => {
	it('sends the method, headers and body, and returns status, headers and body', async () => {
		const response = await client().request({
			method: 'post',
			url: at(origin, '/echo?q=1#fragment'),
			headers: { 'Content-Type': 'text/plain', 'X-Trace': 'abc' },
			body: 'héllo'
		});
		expect(response.status).toBe(200);
		expect(response.url).toBe(at(origin, '/echo?q=1'));
		expect(response.redirects).toBe(0);
		expect(response.headers.get('content-type')).toBe('application/json');
		expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
		const echoed = JSON.parse(response.body.toString()) as {
			method: string;
			url: string;
			headers: Record<string, string>;
			body: string;
		};
		expect(echoed).toMatchObject({ method: 'POST', url: '/echo?q=1', body: 'héllo' });
		expect(echoed.headers).toMatchObject({
			'content-type': 'text/plain',
			'x-trace': 'abc',
			'content-length': String(Buffer.byteLength('héllo')),
			'user-agent': 'AWE',
			host: `127.0.0.1:${origin.port}`
		});
	});

	it('sets framing and Host itself, whatever the caller sends', async () => {
		const response = await client().request({
			method: 'PUT',
			url: at(origin),
			headers: {
				host: 'internal.example',
				'content-length': '999',
				'transfer-encoding': 'chunked',
				'user-agent': 'custom'
			},
			body: new Uint8Array([104, 105])
		});
		const echoed = JSON.parse(response.body.toString()) as {
			headers: Record<string, string>;
			body: string;
		};
		expect(echoed.body).toBe('hi');
		expect(echoed.headers).toMatchObject({
			host: `127.0.0.1:${origin.port}`,
			'content-length': '2',
			'user-agent': 'custom'
		});
		expect(echoed.headers['transfer-encoding']).toBeUndefined();
	});

	it.each([
		[301, 'POST', 'GET', ''],
		[302, 'POST', 'GET', ''],
		[303, 'PUT', 'GET', ''],
		[303, 'DELETE', 'GET', ''],
		[301, 'PUT', 'PUT', 'payload'],
		[302, 'PATCH', 'PATCH', 'payload'],
		[307, 'POST', 'POST', 'payload'],
		[308, 'PUT', 'PUT', 'payload']
	])('follows %i after %s with %s, as fetch does', async (status, method, nextMethod, nextBody) => {
		const response = await client().request({
			method,
			url: at(origin, redirect(status, '/echo')),
			headers: { 'content-type': 'text/plain' },
			body: 'payload'
		});
		expect(response.redirects).toBe(1);
		expect(response.url).toBe(at(origin));
		const echoed = JSON.parse(response.body.toString()) as {
			method: string;
			headers: Record<string, string>;
			body: string;
		};
		expect(echoed.method).toBe(nextMethod);
		expect(echoed.body).toBe(nextBody);
		expect(echoed.headers['content-type']).toBe(nextBody ? 'text/plain' : undefined);
	});

	it('keeps credential headers on the same origin and drops them on another', async () => {
		const headers = {
			authorization: 'Bearer s3cret',
			cookie: 'session=s3cret',
			'x-api-key': 's3cret',
			'x-auth-token': 's3cret',
			'x-trace': 'kept'
		};
		const sameOrigin = await client().request({
			url: at(origin, redirect(302, '/echo')),
			headers
		});
		expect(JSON.parse(sameOrigin.body.toString())).toMatchObject({ headers });

		// Same host, another port: another origin. Back to the first origin they stay dropped.
		const detour = at(other, redirect(307, at(origin)));
		const crossOrigin = await client().request({
			url: at(origin, redirect(302, detour)),
			headers
		});
		expect(crossOrigin.redirects).toBe(2);
		const echoed = JSON.parse(crossOrigin.body.toString()) as { headers: Record<string, string> };
		expect(echoed.headers['x-trace']).toBe('kept');
		for (const name of ['authorization', 'cookie', 'x-api-key', 'x-auth-token']) {
			expect(echoed.headers[name]).toBeUndefined();
		}
		expect(other.received.at(-1)?.headers.authorization).toBeUndefined();
	});

	it('resolves relative locations and returns a redirect without Location as it is', async () => {
		const relative = await client().request({ url: at(origin, redirect(301, 'echo?x=1')) });
		expect(relative.url).toBe(at(origin, '/echo?x=1'));

		const stay = await client().request({ url: at(origin, '/no-location') });
		expect(stay).toMatchObject({ status: 302, redirects: 0 });
		expect(stay.body.toString()).toBe('stay');
	});

	it('follows at most maxRedirects redirects', async () => {
		const twice = at(origin, redirect(302, redirect(302, '/echo')));
		expect((await client({ maxRedirects: 2 }).request({ url: twice })).redirects).toBe(2);
		const error = await failure(client({ maxRedirects: 1 }).request({ url: twice }));
		expect(error.code).toBe('too_many_redirects');
		expect(error.message).toBe(
			`Stopped after 1 redirects; http://127.0.0.1:${origin.port} redirects again.`
		);
		const none = await failure(client({ maxRedirects: 0 }).request({ url: twice }));
		expect(none.code).toBe('too_many_redirects');
	});

	it('rejects redirects to invalid URLs and URLs with credentials', async () => {
		const invalid = await failure(client().request({ url: at(origin, redirect(302, 'http://[')) }));
		expect(invalid).toMatchObject({ code: 'invalid_redirect' });
		const withPassword = `http://user:s3cret@127.0.0.1:${origin.port}/echo`;
		const credentials = await failure(
			client().request({ url: at(origin, redirect(302, withPassword)) })
		);
		expect(credentials.code).toBe('invalid_redirect');
		expect(credentials.message).not.toContain('s3cret');
	});
});

describe('connection pinning', () => {
	it('connects to the checked address and sends the URL host name', async () => {
		const names = { 'pinned.test': ['127.0.0.1'] };
		const allow = [{ host: 'pinned.test', port: origin.port }];
		// The .test domain never resolves: only the pinned address can have answered.
		const response = await client({ allow }, names).request({
			url: `http://pinned.test:${origin.port}/echo`
		});
		const echoed = JSON.parse(response.body.toString()) as { headers: Record<string, string> };
		expect(echoed.headers.host).toBe(`pinned.test:${origin.port}`);
	});

	it('resolves once per hop, so a second answer cannot change the address', async () => {
		const answers = [['127.0.0.1'], ['10.0.0.1']];
		let lookups = 0;
		const rebinding = createGuardedHttp({
			allow: [{ host: '127.0.0.1', port: origin.port }],
			resolve: () => Promise.resolve(answers[lookups++] ?? [])
		});
		clients.push(rebinding);
		const url = `http://rebind.test:${origin.port}/echo`;
		expect((await rebinding.request({ url })).status).toBe(200);
		expect(lookups).toBe(1);
		expect((await failure(rebinding.request({ url }))).code).toBe('blocked_address');
		expect(lookups).toBe(2);
	});

	describe('over TLS', () => {
		let secure: TestServer;
		const serverNames: (string | false | null)[] = [];
		const defaultCertificates = tls.getCACertificates('default');

		beforeAll(async () => {
			tls.setDefaultCACertificates([...defaultCertificates, tlsCertificate]);
			secure = await startTestServer(
				(_request, response, incoming) => {
					serverNames.push((incoming.socket as tls.TLSSocket).servername);
					response.end('secure');
				},
				{ tls: { key: tlsKey, cert: tlsCertificate } }
			);
		});

		afterAll(async () => {
			tls.setDefaultCACertificates(defaultCertificates);
			await secure.close();
		});

		it('verifies the certificate for, and sends SNI with, the URL host name', async () => {
			const names = { 'awe-tls.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] };
			const allow = [
				{ host: 'awe-tls.test', port: secure.port },
				{ host: 'other.test', port: secure.port }
			];
			const https = client({ allow }, names);
			const response = await https.request({ url: `https://awe-tls.test:${secure.port}/` });
			expect(response.body.toString()).toBe('secure');
			expect(serverNames).toEqual(['awe-tls.test']);

			const mismatch = await failure(https.request({ url: `https://other.test:${secure.port}/` }));
			expect(mismatch.code).toBe('tls_failed');
			expect(mismatch.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
			const byAddress = await failure(
				client({ allow: [{ host: '127.0.0.1', port: secure.port }] }).request({
					url: `https://127.0.0.1:${secure.port}/`
				})
			);
			expect(byAddress.code).toBe('tls_failed');
		});
	});
});

describe('failures', () => {
	it('rejects invalid requests before connecting', async () => {
		const guarded = client();
		const cases: [Parameters<GuardedHttp['request']>[0], string][] = [
			[{ url: 'not a url' }, 'invalid_url'],
			[{ url: '/relative' }, 'invalid_url'],
			[{ url: `http://user:pw@127.0.0.1:${origin.port}/` }, 'invalid_url'],
			[{ url: at(origin), method: 'GET /admin' }, 'invalid_request'],
			[{ url: at(origin), method: 'connect' }, 'invalid_request'],
			[{ url: at(origin), method: 'TRACE' }, 'invalid_request'],
			[{ url: at(origin), method: 'GET', body: 'x' }, 'invalid_request'],
			[{ url: at(origin), headers: { 'x-a': 's3cret\r\nx-b: 1' } }, 'invalid_request'],
			[{ url: at(origin), headers: { 'x-a': 's3cret\u0001' } }, 'invalid_request'],
			[{ url: at(origin), headers: { 'bad name': 's3cret' } }, 'invalid_request'],
			[{ url: at(origin), timeoutMs: Number.NaN }, 'invalid_request'],
			[{ url: at(origin), maxResponseBytes: 0 }, 'invalid_request']
		];
		const before = origin.received.length;
		for (const [request, code] of cases) {
			const error = await failure(guarded.request(request));
			expect(error.code, JSON.stringify(request)).toBe(code);
			expect(error.message).not.toContain('s3cret');
			expect(error.message).not.toContain('pw');
		}
		expect(origin.received.length).toBe(before);
	});

	it('refuses client limits that would disable a cap', () => {
		expect(() => createGuardedHttp({ timeoutMs: 0 })).toThrow(RangeError);
		expect(() => createGuardedHttp({ maxResponseBytes: Number.NaN })).toThrow(RangeError);
		expect(() => createGuardedHttp({ connectTimeoutMs: 2 ** 31 })).toThrow(RangeError);
		expect(() => createGuardedHttp({ maxRedirects: -1 })).toThrow(RangeError);
	});

	it('reports names that do not resolve', async () => {
		const error = await failure(client().request({ url: 'http://nowhere.test/' }));
		expect(error).toMatchObject({ code: 'dns_failed', message: 'Could not resolve nowhere.test.' });
		const garbage = await failure(
			client({}, { 'odd.test': ['not-an-address'] }).request({ url: 'http://odd.test/' })
		);
		expect(garbage.code).toBe('dns_failed');
	});

	it('reports refused and unreachable connections as connect_failed', async () => {
		const closed = await startTestServer(respond);
		await closed.close();
		const refused = await failure(
			client({ allow: [{ host: '127.0.0.1', port: closed.port }] }).request({ url: at(closed) })
		);
		expect(refused.code).toBe('connect_failed');
		expect(refused.message).toBe(
			`Could not connect to http://127.0.0.1:${closed.port} (ECONNREFUSED).`
		);

		// A TLS handshake that never completes counts against the connect timeout.
		const accepted: net.Socket[] = [];
		const silent = net.createServer((socket) => accepted.push(socket));
		await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
		const { port } = silent.address() as net.AddressInfo;
		const startedAt = Date.now();
		const stalled = await failure(
			client({ allow: [{ host: '127.0.0.1', port }], connectTimeoutMs: 200 }).request({
				url: `https://127.0.0.1:${port}/`
			})
		);
		expect(stalled).toMatchObject({
			code: 'connect_failed',
			message: `Could not connect to https://127.0.0.1:${port} within 200 ms.`
		});
		expect(Date.now() - startedAt).toBeLessThan(5_000);
		for (const socket of accepted) socket.destroy();
		await new Promise((resolve) => silent.close(resolve));
	});

	it('reports a connection cut mid-body as response_failed', async () => {
		const error = await failure(client().request({ url: at(origin, '/cut') }));
		expect(error.code).toBe('response_failed');
	});

	it('lets a request tighten the limits, never loosen them', async () => {
		const guarded = client({ maxResponseBytes: 1024 });
		const echo = { url: at(origin), method: 'POST', body: 'x'.repeat(600) };
		expect((await guarded.request(echo)).status).toBe(200);
		const tighter = await failure(guarded.request({ ...echo, maxResponseBytes: 100 }));
		expect(tighter).toMatchObject({
			code: 'response_too_large',
			message: `The response from http://127.0.0.1:${origin.port} is larger than 100 bytes.`
		});
		const looser = await failure(
			guarded.request({ ...echo, body: 'x'.repeat(2000), maxResponseBytes: 10_000 })
		);
		expect(looser.message).toContain('larger than 1 KiB');
	});

	it('cancels on the caller’s signal, before or during the request', async () => {
		const guarded = client();
		const early = await failure(guarded.request({ url: at(origin), signal: AbortSignal.abort() }));
		expect(early).toMatchObject({ code: 'aborted', message: 'The request was cancelled.' });

		const hanging = await startTestServer(() => {});
		const controller = new AbortController();
		setTimeout(() => controller.abort(), 100);
		const late = await failure(
			client({ allow: [{ host: '127.0.0.1', port: hanging.port }] }).request({
				url: at(hanging),
				signal: controller.signal
			})
		);
		expect(late.code).toBe('aborted');
		await hanging.close();
	});
});
