import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient, testPassword } from '../helpers/http-client.ts';
import { expectProblem, setCookie, uniqueEmail } from './support.ts';

const app = useAppServer();
const evil = 'https://evil.example';

// Every encoding a cross-site <form> (or a no-preflight fetch) can use, including odd spellings,
// and SvelteKit's own binary form encoding: what Kit's CSRF check covered, and ours covers.
const formTypes = [
	'application/x-www-form-urlencoded',
	'multipart/form-data',
	'text/plain',
	'TEXT/PLAIN',
	'Application/X-WWW-Form-Urlencoded',
	'text/plain;charset=UTF-8',
	'application/x-sveltekit-formdata'
];

/** A form body in the given encoding, with the content type a browser would send. */
function encode(type: string, fields: Record<string, string>): { type: string; body: string } {
	const entries = Object.entries(fields);
	const kind = type.split(';')[0]?.toLowerCase();
	if (kind === 'multipart/form-data') {
		const boundary = '----awe-csrf-test';
		const body =
			entries
				.map(
					([name, value]) =>
						`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
				)
				.join('') + `--${boundary}--\r\n`;
		return { type: `${type}; boundary=${boundary}`, body };
	}
	if (kind === 'text/plain')
		return { type, body: entries.map(([name, value]) => `${name}=${value}`).join('\r\n') };
	return { type, body: new URLSearchParams(fields).toString() };
}

function crossSitePost(
	client: TestClient,
	path: string,
	type: string,
	body: string,
	origin: string | null = evil
) {
	const headers: Record<string, string> = { 'content-type': type, accept: 'text/html' };
	if (origin !== null) headers.origin = origin;
	return client.request(path, { method: 'POST', body, headers });
}

const adminEmail = uniqueEmail('csrf-admin');

describe('cross-site form posts', () => {
	// Runs first, on an empty instance: had any of these created an account, the same-origin sign-up
	// below would not be the first one (and would not become instance admin).
	it.each(formTypes)('cannot sign up (%s)', async (formType) => {
		const fields = { name: 'Mallory', email: uniqueEmail('csrf-signup'), password: testPassword };
		const { type, body } = encode(formType, fields);
		const client = new TestClient(app.url);
		const response = await crossSitePost(client, '/signup', type, body);
		expect(response.status).toBe(403);
		expect(setCookie(response, 'awe_session')).toBeUndefined();
		expect(client.cookies.size).toBe(0);
		await response.body?.cancel();
	});

	it('a same-origin sign-up works, and is still the first account', async () => {
		const client = new TestClient(app.url);
		const response = await client.postForm('/signup', {
			name: 'Admin',
			email: adminEmail,
			password: testPassword
		});
		expect(response.status).toBe(303);
		const me = await client.request('/api/v1/me');
		expect(await me.json()).toMatchObject({ email: adminEmail, isInstanceAdmin: true });
	});

	it.each(formTypes)('cannot sign in (%s)', async (formType) => {
		const { type, body } = encode(formType, { email: adminEmail, password: testPassword });
		const client = new TestClient(app.url);
		const response = await crossSitePost(client, '/login', type, body);
		expect(response.status).toBe(403);
		expect(setCookie(response, 'awe_session')).toBeUndefined();
		await response.body?.cancel();
	});

	it('cannot sign in without an Origin header, or from an opaque (null) origin', async () => {
		const body = new URLSearchParams({ email: adminEmail, password: testPassword }).toString();
		for (const origin of [null, 'null']) {
			const client = new TestClient(app.url);
			const response = await crossSitePost(
				client,
				'/login',
				'application/x-www-form-urlencoded',
				body,
				origin
			);
			expect(response.status).toBe(403);
			expect(setCookie(response, 'awe_session')).toBeUndefined();
			await response.body?.cancel();
		}
	});

	describe('sign-out', () => {
		let visitor: Promise<TestClient> | undefined;
		function signedInVisitor(): Promise<TestClient> {
			visitor ??= (async () => {
				const client = new TestClient(app.url);
				const response = await client.postForm('/login', {
					email: adminEmail,
					password: testPassword
				});
				expect(response.status).toBe(303);
				return client;
			})();
			return visitor;
		}

		it.each(formTypes)('cannot sign a visitor out (%s)', async (formType) => {
			const client = await signedInVisitor();
			const { type, body } = encode(formType, { reason: 'csrf' });
			const response = await crossSitePost(client, '/logout', type, body);
			expect(response.status).toBe(403);
			expect(response.headers.getSetCookie()).toEqual([]);
			await response.body?.cancel();
			const me = await client.request('/api/v1/me');
			expect(me.status).toBe(200);
			await me.body?.cancel();
		});

		it('…while the visitor’s own sign-out button works', async () => {
			const client = await signedInVisitor();
			const own = await client.postForm('/logout', {});
			expect(own.status).toBe(303);
			const after = await client.request('/api/v1/me');
			expect(after.status).toBe(401);
			await after.body?.cancel();
		});
	});
});

describe('cross-site form posts to the API and to webhooks', () => {
	let signedIn: Promise<TestClient> | undefined;
	function admin(): Promise<TestClient> {
		signedIn ??= (async () => {
			const client = new TestClient(app.url);
			const response = await client.postForm('/login', {
				email: adminEmail,
				password: testPassword
			});
			expect(response.status).toBe(303);
			return client;
		})();
		return signedIn;
	}

	it.each(formTypes)(
		'refuse every write to an API route (%s), as SvelteKit did',
		async (formType) => {
			const client = await admin();
			const { type, body } = encode(formType, { name: 'Made by a form' });
			for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
				const response = await client.request('/api/v1/workspaces', {
					method,
					body,
					headers: { 'content-type': type, origin: evil }
				});
				expect(response.status).toBe(403);
				expect(await response.text()).toBe(`Cross-site ${method} form submissions are forbidden`);
			}
			const asked = await client.request('/api/v1/workspaces', {
				method: 'POST',
				body,
				headers: { 'content-type': type, origin: evil, accept: 'application/json' }
			});
			expect(asked.status).toBe(403);
			expect(await asked.json()).toEqual({
				message: 'Cross-site POST form submissions are forbidden'
			});
			const list = await client.request('/api/v1/workspaces');
			expect(JSON.stringify(await list.json())).not.toContain('Made by a form');
		}
	);

	it('let a same-origin form post through to the API, which wants JSON', async () => {
		const client = await admin();
		const response = await client.request('/api/v1/workspaces', {
			method: 'POST',
			body: 'name=Same+origin+form',
			headers: { 'content-type': 'application/x-www-form-urlencoded', origin: client.origin }
		});
		await expectProblem(response, 415, 'invalid-body');
	});

	it('let a cross-site form post reach a webhook, which takes it with its token', async () => {
		const client = await admin();
		const [workspace] = (await (await client.request('/api/v1/workspaces')).json()) as {
			id: string;
		}[];
		const flows = `/api/v1/workspaces/${workspace?.id}/workflows`;
		const created = await client.json(flows, 'POST', {
			name: 'Form hook',
			definition: {
				inputs: [
					{ name: 'name', type: 'string' },
					{ name: 'text', type: 'string' }
				],
				nodes: [
					{ id: 'start', kind: 'input' },
					{ id: 'done', kind: 'output' }
				],
				edges: [{ from: 'start', to: 'done' }]
			}
		});
		const { id: flowId } = (await created.json()) as { id: string };
		const published = await client.json(`${flows}/${flowId}/versions/1/publish`, 'POST', {});
		expect(published.status).toBe(200);
		const hookResponse = await client.json(`${flows}/${flowId}/triggers`, 'POST', {
			kind: 'webhook',
			name: 'Forms'
		});
		const hook = (await hookResponse.json()) as { path: string; secret: string };

		for (const formType of formTypes.filter((type) => !type.includes('sveltekit'))) {
			const { type, body } = encode(formType, { name: 'ada' });
			const response = await fetch(new URL(hook.path, app.url), {
				method: 'POST',
				body,
				headers: { 'content-type': type, origin: evil, authorization: `Bearer ${hook.secret}` }
			});
			expect(response.status, formType).toBe(202);
			await response.body?.cancel();
		}
		// Past the origin check, a type the webhook cannot read is its own 415.
		const binary = await fetch(new URL(hook.path, app.url), {
			method: 'POST',
			body: 'x',
			headers: {
				'content-type': 'application/x-sveltekit-formdata',
				origin: evil,
				authorization: `Bearer ${hook.secret}`
			}
		});
		await expectProblem(binary, 415, 'unsupported-media-type');
	});
});

describe('cookie-authenticated JSON writes', () => {
	let signedIn: Promise<TestClient> | undefined;
	function admin(): Promise<TestClient> {
		signedIn ??= (async () => {
			const client = new TestClient(app.url);
			const response = await client.postForm('/login', {
				email: adminEmail,
				password: testPassword
			});
			expect(response.status).toBe(303);
			return client;
		})();
		return signedIn;
	}

	async function workspaceNames(client: TestClient): Promise<string[]> {
		const response = await client.request('/api/v1/workspaces');
		return ((await response.json()) as { name: string }[]).map((workspace) => workspace.name);
	}

	it('refuses a cross-origin POST with the session cookie, and nothing is created', async () => {
		const client = await admin();
		const response = await client.json(
			'/api/v1/workspaces',
			'POST',
			{ name: 'Made by evil' },
			{ origin: evil }
		);
		await expectProblem(response, 403, 'cross-origin');
		expect(await workspaceNames(client)).not.toContain('Made by evil');
	});

	it('refuses cross-origin PATCH and DELETE too', async () => {
		const client = await admin();
		const [workspace] = (await (await client.request('/api/v1/workspaces')).json()) as {
			id: string;
			name: string;
		}[];
		const rename = await client.json(
			`/api/v1/workspaces/${workspace?.id}`,
			'PATCH',
			{ name: 'Renamed by evil' },
			{ origin: evil }
		);
		await expectProblem(rename, 403, 'cross-origin');
		expect(await workspaceNames(client)).toContain(workspace?.name);

		const revoke = await client.request(`/api/v1/tokens/${crypto.randomUUID()}`, {
			method: 'DELETE',
			headers: { origin: evil }
		});
		await expectProblem(revoke, 403, 'cross-origin');
	});

	it.each([
		['cross-site', 403],
		['same-site', 403],
		['none', 403],
		[null, 403],
		['same-origin', 201]
	] as const)('without an Origin header, Sec-Fetch-Site %s → %i', async (fetchSite, status) => {
		const client = await admin();
		const headers: Record<string, string> = { 'content-type': 'application/json' };
		if (fetchSite) headers['sec-fetch-site'] = fetchSite;
		const name = `Fetch site ${fetchSite}`;
		const response = await client.request('/api/v1/workspaces', {
			method: 'POST',
			body: JSON.stringify({ name }),
			headers
		});
		expect(response.status).toBe(status);
		if (status === 403) await expectProblem(response, 403, 'cross-origin');
		else await response.body?.cancel();
		expect((await workspaceNames(client)).includes(name)).toBe(status === 201);
	});

	it('an Origin header wins over a forged Sec-Fetch-Site', async () => {
		const client = await admin();
		const response = await client.json(
			'/api/v1/workspaces',
			'POST',
			{ name: 'Forged fetch site' },
			{ origin: evil, 'sec-fetch-site': 'same-origin' }
		);
		await expectProblem(response, 403, 'cross-origin');
	});

	it('refuses a cross-origin text/plain body (a "simple" request needing no preflight)', async () => {
		const client = await admin();
		const response = await client.request('/api/v1/workspaces', {
			method: 'POST',
			body: JSON.stringify({ name: 'Simple request' }),
			headers: { 'content-type': 'text/plain', origin: evil }
		});
		expect(response.status).toBe(403);
		await response.body?.cancel();
		expect(await workspaceNames(client)).not.toContain('Simple request');
	});

	it('a same-origin write works', async () => {
		const client = await admin();
		const response = await client.json('/api/v1/workspaces', 'POST', { name: 'Same origin' });
		expect(response.status).toBe(201);
		await response.body?.cancel();
	});

	it('grants no CORS: a cross-origin read gets no Access-Control-Allow-* headers', async () => {
		const client = await admin();
		for (const method of ['GET', 'OPTIONS']) {
			const response = await client.request('/api/v1/me', {
				method,
				headers: {
					origin: evil,
					'access-control-request-method': 'POST',
					'access-control-request-headers': 'content-type'
				}
			});
			for (const name of response.headers.keys()) expect(name).not.toMatch(/^access-control-/);
			await response.body?.cancel();
		}
	});
});
