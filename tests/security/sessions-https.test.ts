import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient, testPassword } from '../helpers/http-client.ts';
import { setCookie, uniqueEmail } from './support.ts';

/**
 * Behind TLS (ORIGIN https://…): the session cookie is `__Host-` prefixed and Secure, so neither a
 * plain-http response nor a sibling subdomain can set or read it.
 */

const origin = 'https://awe.test';
const app = useAppServer({ ORIGIN: origin });
const email = uniqueEmail('https');

/** A browser on https://awe.test: every write carries that Origin. */
function browser() {
	return new TestClient(app.url);
}

describe('session cookie over https', () => {
	it('is __Host-awe_session with Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain', async () => {
		const client = browser();
		const signUp = await client.postForm(
			'/signup',
			{ name: 'Tls', email, password: testPassword },
			{ origin }
		);
		expect(signUp.status).toBe(303);
		for (const response of [
			signUp,
			await client.postForm('/login', { email, password: testPassword }, { origin })
		]) {
			expect(setCookie(response, 'awe_session')).toBeUndefined();
			const line = setCookie(response, '__Host-awe_session');
			expect(line).toBeDefined();
			const attributes = (line ?? '')
				.split(';')
				.slice(1)
				.map((attribute) => attribute.trim().toLowerCase());
			expect(attributes).toEqual(
				expect.arrayContaining(['secure', 'httponly', 'samesite=lax', 'path=/'])
			);
			expect(attributes.some((attribute) => attribute.startsWith('domain'))).toBe(false);
		}
		const me = await client.request('/api/v1/me');
		expect(me.status).toBe(200);
		expect(me.headers.get('strict-transport-security')).toMatch(/max-age=\d{7,}/);
	});

	it('ignores the same token under the unprefixed name', async () => {
		const client = browser();
		const response = await client.postForm('/login', { email, password: testPassword }, { origin });
		expect(response.status).toBe(303);
		const token = client.cookies.get('__Host-awe_session');
		expect(token).toBeDefined();

		const downgraded = browser();
		downgraded.cookies.set('awe_session', token ?? '');
		const me = await downgraded.request('/api/v1/me');
		expect(me.status).toBe(401);
		await me.body?.cancel();
	});

	it('refuses form posts and cookie-authenticated JSON writes from the plain-http origin', async () => {
		const client = browser();
		const login = await client.postForm('/login', { email, password: testPassword }, { origin });
		expect(login.status).toBe(303);
		// The TestClient's default Origin is http://127.0.0.1:port: not this site.
		const json = await client.json('/api/v1/workspaces', 'POST', { name: 'From http' });
		expect(json.status).toBe(403);
		await json.body?.cancel();
		const form = await browser().postForm('/login', { email, password: testPassword });
		expect(form.status).toBe(403);
		expect(setCookie(form, '__Host-awe_session')).toBeUndefined();
	});
});
