import { lookup } from 'node:dns/promises';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHttpAllowList } from '../../src/lib/server/platform/http-allow.ts';
import {
	createGuardedHttp,
	OutboundHttpError,
	type GuardedHttp,
	type GuardedHttpOptions,
	type OutboundRequest
} from '../../src/lib/server/outbound/guarded-http.ts';
import { createGuardedFetch } from '../../src/lib/server/outbound/guarded-fetch.ts';
import { startTestServer, type TestServer } from '../../src/lib/server/outbound/test-server.ts';

/**
 * Server-side request forgery against the guarded outbound HTTP client, for real: a "secret" server
 * listens on every local interface, and each attack tries to reach it (or a blocked range) through
 * address spellings, DNS answers, redirects from an allow-listed server and proxy settings. The
 * secret server must never receive a request.
 */

let secret: TestServer;
let allowed: TestServer;
const clients: GuardedHttp[] = [];

/** What attacker-controlled DNS would answer; anything else goes to the system resolver. */
const attackerDns: Record<string, string[]> = {
	'loopback.attacker.test': ['127.0.0.1'],
	'127.0.0.1.nip.io': ['127.0.0.1'],
	'metadata.attacker.test': ['169.254.169.254'],
	'private.attacker.test': ['10.0.0.5'],
	'cgnat.attacker.test': ['100.64.0.1'],
	'v6-loopback.attacker.test': ['::1'],
	'mapped.attacker.test': ['::ffff:127.0.0.1'],
	'ula.attacker.test': ['fd00::1'],
	'link-local.attacker.test': ['fe80::1'],
	'zero.attacker.test': ['0.0.0.0'],
	// One public and one loopback address: every address must pass, not just the first.
	'mixed.attacker.test': ['93.184.215.14', '127.0.0.1']
};

function guarded(options: GuardedHttpOptions = {}) {
	const client = createGuardedHttp({
		allow: parseHttpAllowList(`127.0.0.1:${allowed.port}`),
		resolve: async (name) =>
			attackerDns[name] ?? (await lookup(name, { all: true })).map(({ address }) => address),
		...options
	});
	clients.push(client);
	return client;
}

async function failure(client: GuardedHttp, request: OutboundRequest): Promise<OutboundHttpError> {
	const error = await client.request(request).then(
		() => null,
		(caught: unknown) => caught
	);
	expect(error, String(request.url)).toBeInstanceOf(OutboundHttpError);
	return error as OutboundHttpError;
}

const allowedUrl = (path = '/echo') => `http://127.0.0.1:${allowed.port}${path}`;
const redirectTo = (location: string, status = 302) =>
	allowedUrl(`/redirect?status=${status}&to=${encodeURIComponent(location)}`);

beforeAll(async () => {
	const answerSecret = (_request: unknown, response: http.ServerResponse) =>
		response.end('internal secret');
	// Every interface (IPv6 and IPv4 where the host has both), so any spelling of a local address hits.
	secret = await startTestServer(answerSecret, { host: '::' }).catch(() =>
		startTestServer(answerSecret, { host: '0.0.0.0' })
	);
	allowed = await startTestServer((request, response) => {
		const url = new URL(request.url, 'http://allowed');
		const wait = Number(url.searchParams.get('wait') ?? 0);
		switch (url.pathname) {
			case '/redirect':
				setTimeout(() => {
					response.writeHead(Number(url.searchParams.get('status') ?? 302), {
						location: url.searchParams.get('to') ?? '/'
					});
					response.end();
				}, wait);
				return;
			case '/loop':
				response.writeHead(302, { location: '/loop' }).end();
				return;
			case '/large':
				response.writeHead(200, { 'content-length': String(6 * 1024 * 1024) });
				response.end(Buffer.alloc(6 * 1024 * 1024, 'a'));
				return;
			case '/large-chunked':
				// No Content-Length: the cap must hold while streaming.
				response.writeHead(200);
				response.end(Buffer.alloc(6 * 1024 * 1024, 'a'));
				return;
			case '/endless': {
				response.writeHead(200);
				const chunk = Buffer.alloc(64 * 1024, 'a');
				const pump = () => {
					while (!response.destroyed && response.write(chunk));
				};
				response.on('drain', pump);
				pump();
				return;
			}
			case '/hang':
				return;
			case '/trickle': {
				response.writeHead(200);
				const timer = setInterval(() => response.write('.'), 50);
				response.on('close', () => clearInterval(timer));
				return;
			}
			default:
				response.setHeader('content-type', 'application/json');
				response.end(JSON.stringify(request));
		}
	});
});

afterAll(async () => {
	for (const client of clients) client.close();
	await Promise.all([secret.close(), allowed.close()]);
});

describe('blocked address ranges', () => {
	it.each([
		'127.0.0.1',
		'127.0.0.2',
		'127.255.255.254',
		'2130706433',
		'0x7f000001',
		'0x7F.0.0.1',
		'0x7f.1',
		'0177.0.0.1',
		'0177.1',
		'017700000001',
		'127.1',
		'127.0.1',
		'127.0.0.1.',
		'127.000.000.001',
		'%31%32%37.0.0.1',
		'①②⑦.0.0.1',
		'[::1]',
		'[0:0:0:0:0:0:0:1]',
		'[::ffff:127.0.0.1]',
		'[::ffff:7f00:1]',
		'[0:0:0:0:0:ffff:127.0.0.1]',
		'[::ffff:0:127.0.0.1]',
		'[::127.0.0.1]',
		'[64:ff9b::127.0.0.1]',
		'[2002:7f00:1::]',
		'0.0.0.0',
		'0',
		'[::]',
		'localhost',
		'LOCALHOST',
		'ⓛⓞⓒⓐⓛⓗⓞⓢⓣ'
	])('refuses loopback spelt %s and never reaches the local server', async (host) => {
		const error = await failure(guarded(), { url: `http://${host}:${secret.port}/` });
		expect(error.code).toBe('blocked_address');
		expect(secret.received).toHaveLength(0);
	});

	it.each([
		'10.0.0.1',
		'10.255.255.255',
		'172.16.0.1',
		'172.31.255.255',
		'192.168.0.1',
		'192.168.255.255',
		'169.254.169.254',
		'2852039166',
		'0xa9fea9fe',
		'0251.0376.0251.0376',
		'169.254.0.1',
		'100.64.0.1',
		'100.100.100.200',
		'100.127.255.254',
		'0.1.2.3',
		'192.0.0.192',
		'192.0.2.1',
		'198.51.100.1',
		'203.0.113.1',
		'198.18.0.1',
		'198.19.255.255',
		'224.0.0.1',
		'239.255.255.250',
		'240.0.0.1',
		'255.255.255.255',
		'[fd00::1]',
		'[fd00:ec2::254]',
		'[fc00::1]',
		'[fec0::1]',
		'[fe80::1]',
		'[ff02::1]',
		'[ff05::1:3]',
		'[2001:db8::1]',
		'[2001::1]',
		'[100::1]',
		'[::ffff:10.0.0.1]',
		'[::ffff:192.168.1.1]',
		'[::ffff:169.254.169.254]',
		'[::ffff:a9fe:a9fe]',
		'[64:ff9b::a9fe:a9fe]',
		'[2002:a9fe:a9fe::]',
		'[2002:c0a8:101::1]'
	])('refuses %s before connecting', async (host) => {
		const error = await failure(guarded(), { url: `http://${host}/latest/meta-data/` });
		expect(error.code).toBe('blocked_address');
		expect(error.message).toMatch(/^http:\/\/.* is blocked: the address is in a blocked range \(/);
	});

	it.each(Object.keys(attackerDns))(
		'refuses %s, which resolves to a blocked address',
		async (name) => {
			const error = await failure(guarded(), { url: `http://${name}:${secret.port}/` });
			expect(error.code).toBe('blocked_address');
			expect(error.message).toContain(`${name} resolves to an address in a blocked range`);
			expect(secret.received).toHaveLength(0);
		}
	);

	it('refuses the real name localhost through the system resolver', async () => {
		const systemDefaults = createGuardedHttp();
		clients.push(systemDefaults);
		const error = await failure(systemDefaults, { url: `http://localhost:${secret.port}/` });
		expect(error).toMatchObject({ code: 'blocked_address' });
		expect(error.message).toContain('localhost resolves to an address in a blocked range');
		expect(secret.received).toHaveLength(0);
	});

	it('opens exactly the allow-listed address and port', async () => {
		const client = guarded();
		expect((await client.request({ url: allowedUrl() })).status).toBe(200);
		// The entry names an address: any spelling that connects to it is the same allowance.
		expect((await client.request({ url: `http://0x7f.1:${allowed.port}/` })).status).toBe(200);
		for (const url of [
			`http://127.0.0.1:${secret.port}/`,
			`http://127.0.0.2:${allowed.port}/`,
			`http://[::1]:${allowed.port}/`,
			`http://[::ffff:127.0.0.1]:${allowed.port}/`
		]) {
			expect((await failure(client, { url })).code).toBe('blocked_address');
		}
		expect(secret.received).toHaveLength(0);
	});

	it('checks every hop of a DNS answer that changes between requests', async () => {
		const answers = [['127.0.0.1'], ['169.254.169.254']];
		let lookups = 0;
		const client = guarded({ resolve: () => Promise.resolve(answers[lookups++] ?? []) });
		const url = `http://rebind.attacker.test:${allowed.port}/echo`;
		expect((await client.request({ url })).status).toBe(200);
		expect((await failure(client, { url })).code).toBe('blocked_address');
		expect(lookups).toBe(2);
	});
});

describe('redirects out of an allowed server', () => {
	it.each([
		['127.0.0.1 on another port', () => `http://127.0.0.1:${secret.port}/`],
		['localhost', () => `http://localhost:${secret.port}/`],
		['[::1]', () => `http://[::1]:${secret.port}/`],
		['a decimal address', () => `http://2130706433:${secret.port}/`],
		['an IPv4-mapped address', () => `http://[::ffff:7f00:1]:${secret.port}/`],
		['a name resolving to loopback', () => `http://loopback.attacker.test:${secret.port}/`],
		['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/iam/'],
		['a name resolving to metadata', () => 'http://metadata.attacker.test/latest/'],
		['a private address', () => 'http://10.0.0.1/admin']
	])('are re-checked: a redirect to %s is refused', async (_target, target) => {
		for (const status of [301, 302, 303, 307, 308]) {
			const error = await failure(guarded(), {
				url: redirectTo(target(), status),
				method: 'POST',
				body: 'payload'
			});
			expect(error.code).toBe('blocked_address');
		}
		expect(secret.received).toHaveLength(0);
	});

	it('are re-checked on every hop of a chain', async () => {
		const chain = redirectTo(redirectTo(redirectTo(`http://127.0.0.1:${secret.port}/`)));
		expect((await failure(guarded(), { url: chain })).code).toBe('blocked_address');
		expect(secret.received).toHaveLength(0);
	});

	it.each([
		'file:///etc/passwd',
		'gopher://127.0.0.1:6379/_INFO',
		'ftp://127.0.0.1/',
		'data:text/plain,hi',
		'dict://127.0.0.1:11211/stats'
	])('cannot switch to %s', async (location) => {
		const error = await failure(guarded(), { url: redirectTo(location) });
		expect(error.code).toBe('unsupported_scheme');
	});

	it('stop after five', async () => {
		const before = allowed.received.length;
		const error = await failure(guarded(), { url: allowedUrl('/loop') });
		expect(error).toMatchObject({ code: 'too_many_redirects' });
		expect(error.message).toContain('Stopped after 5 redirects');
		expect(allowed.received.length - before).toBe(6);

		const five = Array.from({ length: 5 }).reduce<string>((url) => redirectTo(url), allowedUrl());
		expect((await guarded().request({ url: five })).redirects).toBe(5);
	});
});

describe('schemes', () => {
	it.each([
		'file:///etc/passwd',
		'file://localhost/etc/passwd',
		'ftp://127.0.0.1/',
		'gopher://127.0.0.1:6379/_FLUSHALL',
		'data:text/plain,hello',
		'javascript:alert(1)',
		'ws://127.0.0.1/',
		'wss://127.0.0.1/',
		'dict://127.0.0.1:11211/',
		'ldap://127.0.0.1/',
		'sftp://127.0.0.1/',
		'tftp://127.0.0.1/x',
		'jar:http://127.0.0.1!/',
		'view-source:http://127.0.0.1/',
		'mailto:root@localhost'
	])('refuses %s', async (url) => {
		const error = await failure(guarded(), { url });
		expect(error.code).toBe('unsupported_scheme');
		expect(error.message).toMatch(/only http: and https: are allowed\.$/);
	});

	it.each(['', 'not a url', '//127.0.0.1/', 'http://', 'http://[::1', 'http://a b/'])(
		'refuses the malformed URL %j',
		async (url) => {
			expect((await failure(guarded(), { url })).code).toBe('invalid_url');
		}
	);
});

describe('size and time limits', () => {
	it('refuses a body over 5 MiB announced by Content-Length', async () => {
		const error = await failure(guarded(), { url: allowedUrl('/large') });
		expect(error).toMatchObject({
			code: 'response_too_large',
			message: `The response from http://127.0.0.1:${allowed.port} is larger than 5 MiB.`
		});
	});

	it('refuses a body over the limit streamed without Content-Length', async () => {
		expect((await failure(guarded(), { url: allowedUrl('/large-chunked') })).code).toBe(
			'response_too_large'
		);
		const small = guarded({ maxResponseBytes: 64 * 1024 });
		const endless = await failure(small, { url: allowedUrl('/endless') });
		expect(endless.message).toContain('larger than 64 KiB');
	});

	it('gives up on a server that never answers', async () => {
		const startedAt = Date.now();
		const error = await failure(guarded({ timeoutMs: 300 }), { url: allowedUrl('/hang') });
		expect(error).toMatchObject({
			code: 'timeout',
			message: 'The request did not finish within 300 ms.'
		});
		expect(Date.now() - startedAt).toBeLessThan(3_000);
	});

	it('caps the whole request, not each read: a trickling body times out', async () => {
		const error = await failure(guarded(), { url: allowedUrl('/trickle'), timeoutMs: 300 });
		expect(error.code).toBe('timeout');
	});

	it('counts the time across redirects', async () => {
		const slowHop = (to: string) => allowedUrl(`/redirect?wait=150&to=${encodeURIComponent(to)}`);
		const url = slowHop(slowHop(slowHop(allowedUrl())));
		expect((await failure(guarded({ timeoutMs: 300 }), { url })).code).toBe('timeout');
	});

	it("stops when the caller's signal fires", async () => {
		const error = await failure(guarded(), {
			url: allowedUrl('/hang'),
			signal: AbortSignal.timeout(100)
		});
		expect(error.code).toBe('aborted');
	});
});

describe('the streaming fetch for model providers', () => {
	const fetchError = (url: string) =>
		createGuardedFetch(guarded())(url, { method: 'POST', body: '{}' }).then(
			() => null,
			(error: unknown) => error
		);

	it.each([
		() => `http://127.0.0.1:${secret.port}/v1/chat/completions`,
		() => `http://[::1]:${secret.port}/v1/messages`,
		() => `http://loopback.attacker.test:${secret.port}/v1/models`,
		() => 'http://metadata.attacker.test/latest/',
		() => 'http://10.0.0.1/v1/chat/completions',
		() => redirectTo(`http://127.0.0.1:${secret.port}/`, 307)
	])('refuses a base URL that reaches a blocked address (%#)', async (url) => {
		const error = await fetchError(url());
		expect(error).toBeInstanceOf(OutboundHttpError);
		expect(error).toMatchObject({ code: 'blocked_address' });
		expect(secret.received).toHaveLength(0);
	});
});

describe('proxy settings', () => {
	it('ignores HTTP_PROXY and friends, even with the global agent proxied', async () => {
		const proxy = await startTestServer((_request, response) => response.end('from the proxy'));
		const proxyUrl = `http://127.0.0.1:${proxy.port}`;
		const names = [
			'HTTP_PROXY',
			'http_proxy',
			'HTTPS_PROXY',
			'https_proxy',
			'ALL_PROXY',
			'all_proxy'
		];
		const saved = new Map(names.map((name) => [name, process.env[name]]));
		for (const name of names) process.env[name] = proxyUrl;
		const restoreGlobal = http.setGlobalProxyFromEnv({
			HTTP_PROXY: proxyUrl,
			HTTPS_PROXY: proxyUrl
		});
		try {
			// The proxy is live: Node's global agent sends through it.
			const viaGlobal = await new Promise<string>((resolve, reject) => {
				http
					.get(allowedUrl(), (response) => {
						response.setEncoding('utf8');
						let text = '';
						response.on('data', (chunk: string) => (text += chunk));
						response.on('end', () => resolve(text));
					})
					.on('error', reject);
			});
			expect(viaGlobal).toBe('from the proxy');
			expect(proxy.received).toHaveLength(1);

			const client = guarded();
			const response = await client.request({ url: allowedUrl() });
			expect(JSON.parse(response.body.toString())).toMatchObject({ url: '/echo' });
			// A proxy cannot be used to reach what the address checks refuse either.
			const error = await failure(client, { url: `http://127.0.0.1:${secret.port}/` });
			expect(error.code).toBe('blocked_address');
			expect(proxy.received).toHaveLength(1);
			expect(secret.received).toHaveLength(0);
		} finally {
			restoreGlobal();
			http.globalAgent.destroy();
			for (const [name, value] of saved) {
				if (value === undefined) delete process.env[name];
				else process.env[name] = value;
			}
			await proxy.close();
		}
	});
});

describe('what works', () => {
	it('GETs from an allowed server', async () => {
		const response = await guarded().request({ url: allowedUrl('/echo?x=1') });
		expect(response).toMatchObject({ status: 200, redirects: 0, url: allowedUrl('/echo?x=1') });
		expect(JSON.parse(response.body.toString())).toMatchObject({ method: 'GET', url: '/echo?x=1' });
	});

	it('POSTs a body with headers', async () => {
		const response = await guarded().request({
			method: 'POST',
			url: allowedUrl(),
			headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' },
			body: JSON.stringify({ hello: 'world' })
		});
		expect(JSON.parse(response.body.toString())).toMatchObject({
			method: 'POST',
			body: '{"hello":"world"}',
			headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' }
		});
	});

	it('follows redirects within what is allowed', async () => {
		const response = await guarded().request({
			method: 'POST',
			url: redirectTo(redirectTo('/echo?done', 307), 303),
			body: 'payload'
		});
		expect(response.redirects).toBe(2);
		expect(response.url).toBe(allowedUrl('/echo?done'));
		expect(JSON.parse(response.body.toString())).toMatchObject({ method: 'GET', body: '' });
	});

	it('reaches a name allowed by AWE_HTTP_ALLOW through the system resolver', async () => {
		const client = createGuardedHttp({ allow: parseHttpAllowList(`localhost:${allowed.port}`) });
		clients.push(client);
		const response = await client.request({ url: `http://localhost:${allowed.port}/echo` });
		expect(JSON.parse(response.body.toString())).toMatchObject({
			headers: { host: `localhost:${allowed.port}` }
		});
	});
});

describe('error messages', () => {
	it('never show credentials, paths or queries', async () => {
		const request = (url: string, extra: Partial<OutboundRequest> = {}) => ({
			url,
			headers: { authorization: 'Bearer s3cret-header', 'x-api-key': 's3cret-key' },
			...extra
		});
		const attempts: [GuardedHttp, OutboundRequest][] = [
			[guarded(), request(`http://127.0.0.1:${secret.port}/s3cret-path?token=s3cret-query`)],
			[guarded(), request(redirectTo('http://169.254.169.254/s3cret-path?token=s3cret-query'))],
			[guarded(), request(redirectTo('file:///s3cret-path'))],
			[guarded(), request(allowedUrl('/loop?token=s3cret-query'))],
			[guarded(), request(allowedUrl('/large?token=s3cret-query'))],
			[guarded({ timeoutMs: 200 }), request(allowedUrl('/hang?token=s3cret-query'))],
			[
				guarded(),
				request(allowedUrl(), { headers: { authorization: 'Bearer s3cret\r\nx-injected: 1' } })
			],
			[guarded(), request('http://user:s3cret-password@example.com/')]
		];
		for (const [client, attempt] of attempts) {
			const error = await failure(client, attempt);
			expect(error.message).not.toMatch(/s3cret/);
		}
		expect(secret.received).toHaveLength(0);
	});
});
