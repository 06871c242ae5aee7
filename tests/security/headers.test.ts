import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { signUpViaForm } from '../helpers/http-client.ts';
import { uniqueEmail } from './support.ts';

const app = useAppServer();

/** A CSP header as directive → sources. */
function parseCsp(header: string | null): Map<string, string[]> {
	expect(header).toBeTruthy();
	const directives = new Map<string, string[]>();
	for (const part of (header ?? '').split(';')) {
		const [name, ...sources] = part.trim().split(/\s+/);
		if (name) directives.set(name.toLowerCase(), sources);
	}
	return directives;
}

function expectHardening(response: Response) {
	expect(response.headers.get('x-content-type-options')).toBe('nosniff');
	expect(response.headers.get('x-frame-options')).toBe('DENY');
	expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
	expect(response.headers.get('content-security-policy')).toBeTruthy();
}

const pages = ['/', '/login', '/signup'];

describe('pages', () => {
	it.each(pages)(
		'%s has a nonce-based CSP that forbids framing, plugins and inline script',
		async (path) => {
			const nonces: string[] = [];
			for (let i = 0; i < 2; i++) {
				const response = await fetch(`${app.url}${path}`, { headers: { accept: 'text/html' } });
				expect(response.status).toBe(200);
				expect(response.headers.get('content-type')).toMatch(/^text\/html/);
				expectHardening(response);
				const csp = parseCsp(response.headers.get('content-security-policy'));
				const scriptSrc = csp.get('script-src') ?? csp.get('default-src') ?? [];
				expect(scriptSrc).not.toContain("'unsafe-inline'");
				expect(scriptSrc).not.toContain("'unsafe-eval'");
				expect(scriptSrc).not.toContain('*');
				const nonce = scriptSrc.find((source) => source.startsWith("'nonce-"));
				expect(nonce).toBeDefined();
				nonces.push(nonce ?? '');
				expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
				expect(csp.get('object-src')).toEqual(["'none'"]);
				expect(csp.get('base-uri')).toEqual(["'self'"]);
				expect(csp.get('form-action')).toEqual(["'self'"]);
				// Every inline script in the page carries this response's nonce.
				const html = await response.text();
				const value = (nonce ?? '').slice("'nonce-".length, -1);
				const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((match) => match[1] ?? '');
				expect(scripts.length).toBeGreaterThan(0);
				for (const attributes of scripts) {
					if (!/\bsrc=/.test(attributes)) expect(attributes).toContain(`nonce="${value}"`);
				}
			}
			expect(nonces[0]).not.toBe(nonces[1]);
			// 128 bits or so, not a counter.
			expect((nonces[0] ?? '').length).toBeGreaterThanOrEqual("'nonce-'".length + 16);
		}
	);

	it('a signed-in page has the same policy', async () => {
		const { client } = await signUpViaForm(app.url, uniqueEmail('headers'));
		const response = await client.request('/app', { headers: { accept: 'text/html' } });
		expect(response.status).toBe(200);
		expectHardening(response);
		const csp = parseCsp(response.headers.get('content-security-policy'));
		expect(csp.get('script-src')).not.toContain("'unsafe-inline'");
		expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
		expect(response.headers.get('cache-control') ?? '').not.toMatch(/public/);
	});
});

describe('non-page responses', () => {
	it.each(['/api/v1/me', '/healthz', '/readyz', '/api/v1/workspaces'])(
		'%s runs nothing: default-src none',
		async (path) => {
			const response = await fetch(`${app.url}${path}`);
			expect(response.headers.get('content-type')).toMatch(/json/);
			expectHardening(response);
			const csp = parseCsp(response.headers.get('content-security-policy'));
			expect(csp.get('default-src')).toEqual(["'none'"]);
			expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
			await response.body?.cancel();
		}
	);

	it('no HSTS over plain http (it would be ignored, and wrong behind no TLS)', async () => {
		const response = await fetch(`${app.url}/healthz`);
		expect(response.headers.get('strict-transport-security')).toBeNull();
		await response.body?.cancel();
	});
});

describe('request ids', () => {
	it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
		const echoed = await fetch(`${app.url}/api/v1/me`, {
			headers: { 'x-request-id': 'trace-7f.3:a_b' }
		});
		expect(echoed.headers.get('x-request-id')).toBe('trace-7f.3:a_b');
		await echoed.body?.cancel();

		const unsafe = await fetch(`${app.url}/login`, {
			headers: { 'x-request-id': '<script>alert(1)</script>' }
		});
		expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
		await unsafe.body?.cancel();

		const fresh = await fetch(`${app.url}/healthz`);
		expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
		await fresh.body?.cancel();
	});

	it('the sign-in redirect of a private page carries the request id and the hardening headers', async () => {
		const response = await fetch(`${app.url}/app`, {
			headers: { 'x-request-id': 'redirect-trace-1' },
			redirect: 'manual'
		});
		expect(response.status).toBe(303);
		expect(response.headers.get('location')).toBe('/login?redirectTo=%2Fapp');
		expect(response.headers.get('x-request-id')).toBe('redirect-trace-1');
		expectHardening(response);
		await response.body?.cancel();
	});

	it('does not log an anonymous visitor being sent to sign in as a failed request', async () => {
		const response = await fetch(`${app.url}/app`, {
			headers: { 'x-request-id': 'redirect-trace-2' },
			redirect: 'manual'
		});
		expect(response.status).toBe(303);
		await response.body?.cancel();
		await new Promise((resolve) => setTimeout(resolve, 100));
		const lines = app
			.output()
			.split('\n')
			.filter((line) => line.includes('redirect-trace-2'));
		for (const line of lines) expect(JSON.parse(line)).not.toMatchObject({ msg: 'request failed' });
	});
});
