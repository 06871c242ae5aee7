import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient, testPassword } from '../helpers/http-client.ts';
import { setCookie, signInViaForm, signUpFirst, uniqueEmail, unissuedToken } from './support.ts';

/** Session cookies over plain http (the https variant: sessions-https.test.ts). */

const app = useAppServer();
const cookieName = 'awe_session';
const email = uniqueEmail('sessions');
let signedUp: Promise<unknown> | undefined;

/** The one account of this file, signed up once. */
function account() {
	signedUp ??= signUpFirst(app.url, email);
	return signedUp;
}

async function signIn(client = new TestClient(app.url)) {
	await account();
	const { response } = await signInViaForm(app.url, email, undefined, client);
	expect(response.status).toBe(303);
	const token = client.cookies.get(cookieName);
	if (!token) throw new Error('no session cookie after sign-in');
	return { client, token, response };
}

/** A fresh client holding nothing but this session cookie value. */
function replay(token: string): TestClient {
	const client = new TestClient(app.url);
	client.cookies.set(cookieName, token);
	return client;
}

async function meStatus(client: TestClient): Promise<number> {
	const response = await client.request('/api/v1/me');
	await response.body?.cancel();
	return response.status;
}

describe('session fixation', () => {
	it('never accepts a planted cookie and replaces it with a fresh token at sign-in', async () => {
		const planted = unissuedToken();
		const victim = replay(planted);
		expect(await meStatus(victim)).toBe(401);

		victim.cookies.set(cookieName, planted);
		const { token } = await signIn(victim);
		expect(token).not.toBe(planted);
		expect(token).toMatch(/^[a-z2-7]{32}$/);
		expect(await meStatus(victim)).toBe(200);
		// Whoever planted the value gained nothing.
		expect(await meStatus(replay(planted))).toBe(401);
	});

	it('issues a different token at every sign-in, even from a signed-in browser', async () => {
		const browser = new TestClient(app.url);
		const first = await signIn(browser);
		const second = await signIn(browser);
		const third = await signIn(new TestClient(app.url));
		expect(new Set([first.token, second.token, third.token]).size).toBe(3);
	});
});

describe('cookie attributes', () => {
	it('sets HttpOnly, SameSite=Lax, Path=/, no Domain and an expiry', async () => {
		const { response } = await signIn();
		const line = setCookie(response, cookieName);
		expect(line).toBeDefined();
		const attributes = (line ?? '')
			.split(';')
			.slice(1)
			.map((attribute) => attribute.trim().toLowerCase());
		expect(attributes).toContain('httponly');
		expect(attributes).toContain('samesite=lax');
		expect(attributes).toContain('path=/');
		expect(attributes.some((attribute) => attribute.startsWith('domain'))).toBe(false);
		const expires = attributes.find((attribute) => attribute.startsWith('expires='));
		expect(expires).toBeDefined();
		const lifetime = Date.parse(expires?.slice('expires='.length) ?? '') - Date.now();
		// The idle expiry (7 days), not a session that lives forever.
		expect(lifetime).toBeGreaterThan(6 * 24 * 3600_000);
		expect(lifetime).toBeLessThanOrEqual(7 * 24 * 3600_000 + 60_000);
	});
});

describe('sign-out and revocation', () => {
	it('ends the session on the server: replaying the old cookie is refused', async () => {
		const { client, token } = await signIn();
		expect(await meStatus(client)).toBe(200);
		const out = await client.postForm('/logout', {});
		expect(out.status).toBe(303);
		expect(out.headers.get('location')).toBe('/login');
		expect(client.cookies.has(cookieName)).toBe(false);

		expect(await meStatus(replay(token))).toBe(401);
		const page = await replay(token).request('/app');
		expect(page.status).toBe(303);
		expect(page.headers.get('location')).toMatch(/^\/login\?/);
	});

	it('ends only the signed-out session, at once; the account’s other sessions live on', async () => {
		const laptop = await signIn();
		const phone = await signIn();
		expect(await meStatus(replay(laptop.token))).toBe(200);
		expect(await meStatus(replay(phone.token))).toBe(200);

		expect((await laptop.client.postForm('/logout', {})).status).toBe(303);
		expect(await meStatus(replay(laptop.token))).toBe(401);
		expect(await meStatus(replay(phone.token))).toBe(200);
	});

	it('answers an unknown or malformed cookie as anonymous and clears it', async () => {
		for (const value of [unissuedToken(), 'not-a-token', unissuedToken(31), "' or 1=1 --"]) {
			const client = replay(encodeURIComponent(value));
			const response = await client.request('/api/v1/me');
			expect(response.status).toBe(401);
			await response.body?.cancel();
			const page = await client.request('/app');
			expect(page.status).toBe(303);
			expect(client.cookies.has(cookieName)).toBe(false);
		}
	});
});

describe('redirect after sign-in', () => {
	// Each must stay on this origin (a browser resolves Location the way `new URL` does).
	const offsite = [
		'//evil.example',
		'https://evil.example',
		'http://evil.example/app',
		'/\\evil.example',
		'\\\\evil.example',
		'/\t/evil.example',
		'/\n/evil.example',
		' //evil.example',
		'javascript:alert(1)',
		'//evil.example/%2e%2e'
	];

	async function expectSameOrigin(response: Response) {
		expect(response.status).toBe(303);
		const location = response.headers.get('location') ?? '';
		expect(new URL(location, app.url).origin).toBe(new URL(app.url).origin);
		// A header value that a browser would clean up into something else is no better.
		expect(location).not.toMatch(/[\s\\]/);
	}

	let visitor: Promise<{ client: TestClient }> | undefined;

	it.each(offsite)('does not follow redirectTo=%j for a signed-in visitor', async (target) => {
		visitor ??= signIn();
		const { client } = await visitor;
		const response = await client.request(`/login?redirectTo=${encodeURIComponent(target)}`);
		await expectSameOrigin(response);
	});

	it.each(['//evil.example', '/\t/evil.example'])(
		'does not follow redirectTo=%j when the sign-in form is posted',
		async (target) => {
			await account();
			const client = new TestClient(app.url);
			const response = await client.postForm(`/login?redirectTo=${encodeURIComponent(target)}`, {
				email,
				password: testPassword
			});
			await expectSameOrigin(response);
		}
	);

	it('does follow a same-site path', async () => {
		visitor ??= signIn();
		const { client } = await visitor;
		const response = await client.request(
			`/login?redirectTo=${encodeURIComponent('/app?tab=runs')}`
		);
		expect(response.status).toBe(303);
		expect(response.headers.get('location')).toBe('/app?tab=runs');
	});
});
