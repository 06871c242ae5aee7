import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signIn, signUpPolicy } from '../../src/lib/server/services/accounts.ts';
import { useAppServer } from '../helpers/app-server.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { TestClient, testPassword } from '../helpers/http-client.ts';
import { createTestServices, meta, signUpUser, strongPassword } from '../helpers/services.ts';
import { failure, formMessage, signUpFirst, signUpInvited, uniqueEmail } from './support.ts';

/**
 * Password guessing over the real sign-in form. The server takes the client address from
 * X-Forwarded-For here, so each test throttles an address of its own: otherwise every request (from
 * every test file, and on a shared Redis from every run) would count against one 127.0.0.1 bucket.
 */
// The embedded database first: loading it blocks this process for a while, and a keep-alive
// connection to the server must not sit unserviced across that (the server would close it under us).
const testDb = useTestDatabase();
const app = useAppServer({ ADDRESS_HEADER: 'x-forwarded-for', XFF_DEPTH: '1' });

/** A private address no other test uses. */
function freshIp(): string {
	return `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

async function attempt(email: string, password: string, ip: string) {
	const client = new TestClient(app.url);
	const response = await client.postForm('/login', { email, password }, { 'x-forwarded-for': ip });
	const html = await response.text();
	return {
		status: response.status,
		retryAfter: response.headers.get('retry-after'),
		message: formMessage(html),
		signedIn: client.cookies.has('awe_session')
	};
}

let account: ReturnType<typeof signUpFirst> | undefined;
function firstAccount() {
	account ??= signUpFirst(app.url, uniqueEmail('throttle'));
	return account;
}
async function accountEmail(): Promise<string> {
	return (await firstAccount()).email;
}

describe('sign-in throttling over HTTP', () => {
	it('answers an unknown account and a wrong password with the same status and message', async () => {
		const email = await accountEmail();
		const ip = freshIp();
		const wrong = await attempt(email, 'not the password at all', ip);
		const unknown = await attempt(uniqueEmail('nobody'), 'not the password at all', ip);
		expect(wrong.status).toBe(unknown.status);
		expect(wrong.status).toBe(401);
		expect(wrong.message).toBeTruthy();
		expect(wrong.message).toBe(unknown.message);
		expect(wrong.signedIn || unknown.signedIn).toBe(false);
	});

	it('throttles repeated wrong passwords for one account with 429 and Retry-After, from any address', async () => {
		const email = await accountEmail();
		let last: Awaited<ReturnType<typeof attempt>> | undefined;
		// Far more than any sane policy allows; each guess from a new address, as a botnet would.
		for (let i = 0; i < 30 && last?.status !== 429; i++)
			last = await attempt(email, `guess number ${i}`, freshIp());
		expect(last?.status).toBe(429);
		expect(Number(last?.retryAfter)).toBeGreaterThan(0);
		expect(Number(last?.retryAfter)).toBeLessThanOrEqual(3600);
		expect(last?.message).toMatch(/too many attempts/i);

		// While throttled even the right password is refused, so guessing gains nothing.
		const right = await attempt(email, testPassword, freshIp());
		expect(right.status).toBe(429);
		expect(right.signedIn).toBe(false);
	});

	it('throttles one address trying many accounts (password spraying)', async () => {
		// The real account is made first: the block lasts a window, which slow sign-ups could outlast.
		const { client, workspaceId } = await firstAccount();
		const other = await signUpInvited(app.url, client, workspaceId, 'viewer', uniqueEmail('other'));
		const ip = freshIp();
		let last: Awaited<ReturnType<typeof attempt>> | undefined;
		let tries = 0;
		for (; tries < 60 && last?.status !== 429; tries++)
			last = await attempt(uniqueEmail('spray'), 'Summer2026!', ip);
		expect(last?.status).toBe(429);
		expect(tries).toBeGreaterThan(1);
		expect(Number(last?.retryAfter)).toBeGreaterThan(0);

		// The block is on the address: an untouched real account cannot be signed in to from it for
		// now, while the same account signs in fine from elsewhere.
		const blocked = await attempt(other.email, testPassword, ip);
		expect(blocked).toMatchObject({ status: 429, signedIn: false });
		expect(await attempt(other.email, testPassword, freshIp())).toMatchObject({
			status: 303,
			signedIn: true
		});
	});
});

describe('sign-up throttling over HTTP', () => {
	it('limits self-service sign-ups from one address with 429, Retry-After and a form message', async () => {
		const { client: admin } = await firstAccount();
		const setMode = async (signupMode: string) => {
			const response = await admin.postForm('/admin/settings?/update', { signupMode });
			expect(response.status).toBe(200);
			await response.body?.cancel();
		};
		const signUpFrom = async (ip: string) => {
			const client = new TestClient(app.url);
			const response = await client.postForm(
				'/signup',
				{ name: 'Walk-in', email: uniqueEmail('walkin'), password: testPassword },
				{ 'x-forwarded-for': ip }
			);
			return {
				status: response.status,
				retryAfter: response.headers.get('retry-after'),
				message: formMessage(await response.text()),
				signedIn: client.cookies.has('awe_session')
			};
		};
		await setMode('open');
		try {
			const ip = freshIp();
			for (let i = 0; i < signUpPolicy.points; i++)
				expect(await signUpFrom(ip)).toMatchObject({ status: 303, signedIn: true });
			const refused = await signUpFrom(ip);
			expect(refused).toMatchObject({ status: 429, signedIn: false });
			expect(refused.message).toMatch(
				/^Too many sign-ups from this address\. Try again in \d+ minutes\.$/
			);
			// Real time passes on the server: the wait is what is left of the hour.
			expect(Number(refused.retryAfter)).toBeGreaterThan(0);
			expect(Number(refused.retryAfter)).toBeLessThanOrEqual(signUpPolicy.duration);
			expect(await signUpFrom(freshIp())).toMatchObject({ status: 303, signedIn: true });
		} finally {
			await setMode('invite-only');
		}
	});
});

describe('account enumeration', () => {
	it('sign-up on an invite-only instance does not reveal which addresses are registered', async () => {
		const registered = await accountEmail();
		const fields = { name: 'Prober', password: testPassword };
		const probe = async (email: string) => {
			const response = await new TestClient(app.url).postForm('/signup', { ...fields, email });
			return { status: response.status, html: await response.text() };
		};
		const taken = await probe(registered);
		const free = await probe(uniqueEmail('free'));
		expect(free.status).toBe(403);
		expect(free.html).toMatch(/by invitation only/);
		// Neither the status nor anything in the page (the form data included) tells them apart.
		expect(taken.status).toBe(free.status);
		expect(taken.html).not.toMatch(/already (exists|registered)/i);
	});
});

describe('throttling over time (service level, fake clock)', () => {
	it('releases an account after the advertised Retry-After, without a permanent lockout', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const guess = () =>
			failure(signIn(ctx, { email: user.email, password: 'a wrong guess' }, meta));
		let refused = await guess();
		while (refused.type === 'unauthorized') refused = await guess();
		expect(refused).toMatchObject({ type: 'rate-limited', status: 429 });
		const wait = refused.retryAfterSeconds ?? 0;
		expect(wait).toBeGreaterThan(0);

		// Hammering while throttled does not extend the wait.
		for (let i = 0; i < 20; i++) expect((await guess()).type).toBe('rate-limited');
		ctx.clock.advance(wait * 1000 - 1500);
		expect(
			(await failure(signIn(ctx, { email: user.email, password: strongPassword }, meta))).type
		).toBe('rate-limited');
		ctx.clock.advance(1500);
		const signedIn = await signIn(ctx, { email: user.email, password: strongPassword }, meta);
		expect(signedIn.user.id).toBe(user.user.id);
		// A successful sign-in forgives the account's earlier failures.
		expect((await guess()).type).toBe('unauthorized');
	});

	it('releases a throttled address as time passes', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const from = { ...meta, ip: '192.0.2.200' };
		const spray = (i: number) =>
			failure(signIn(ctx, { email: `spray${i}@example.com`, password: 'x'.repeat(12) }, from));
		let refused = await spray(0);
		for (let i = 1; refused.type === 'unauthorized'; i++) refused = await spray(i);
		expect(refused.type).toBe('rate-limited');
		expect(
			(await failure(signIn(ctx, { email: user.email, password: strongPassword }, from))).type
		).toBe('rate-limited');
		ctx.clock.advance((refused.retryAfterSeconds ?? 0) * 1000);
		const signedIn = await signIn(ctx, { email: user.email, password: strongPassword }, from);
		expect(signedIn.user.id).toBe(user.user.id);
	});
});
