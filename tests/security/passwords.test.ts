import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient } from '../helpers/http-client.ts';
import { inviteToken, uniqueEmail } from './support.ts';

const app = useAppServer();

/** The error shown under one field of a form page. */
function fieldError(html: string, name: string): string | null {
	const match = new RegExp(`<span[^>]*id="${name}-error"[^>]*>([^<]*)</span>`).exec(html);
	return match?.[1]?.trim() ?? null;
}

const long = 'Tr0ub4dor&3 is not a passphrase; this one goes on and on: ';
// 80 characters (and bytes): bcrypt alone would only ever look at the first 72.
const eightyChars = (long + 'x'.repeat(80)).slice(0, 80);
const email = uniqueEmail('long-password');
let owner: Promise<TestClient> | undefined;

/** The first account, with the 80-character password. */
function signUpOwner(): Promise<TestClient> {
	owner ??= (async () => {
		const client = new TestClient(app.url);
		const response = await client.postForm('/signup', {
			name: 'Long',
			email,
			password: eightyChars
		});
		expect(response.status).toBe(303);
		return client;
	})();
	return owner;
}

async function signIn(address: string, password: string) {
	const client = new TestClient(app.url);
	const response = await client.postForm('/login', { email: address, password });
	await response.body?.cancel();
	return { status: response.status, signedIn: client.cookies.has('awe_session') };
}

describe('long passwords', () => {
	it('every byte counts: the same first 72 bytes with another ending is refused', async () => {
		await signUpOwner();
		expect(Buffer.byteLength(eightyChars)).toBe(80);
		const sameStart = eightyChars.slice(0, 72) + 'DIFFERNT';
		expect(sameStart).toHaveLength(80);
		expect(sameStart).not.toBe(eightyChars);
		expect(await signIn(email, sameStart)).toEqual({ status: 401, signedIn: false });
		expect(await signIn(email, eightyChars.slice(0, 72))).toEqual({
			status: 401,
			signedIn: false
		});
		expect(await signIn(email, eightyChars)).toEqual({ status: 303, signedIn: true });
	});

	it('the same holds for multi-byte characters (72 bytes is 24 three-byte characters)', async () => {
		const inviter = await signUpOwner();
		const invite = await inviteToken(inviter, (await workspaceOf(inviter)) ?? '', 'viewer');
		const address = uniqueEmail('cjk');
		const password = '密码安全很重要'.repeat(6); // 42 characters, 126 bytes
		const client = new TestClient(app.url);
		const response = await client.postForm('/signup', {
			name: 'Wide',
			email: address,
			password,
			invite
		});
		expect(response.status).toBe(303);
		const sameFirst72Bytes = password.slice(0, 24) + '口令'.repeat(9);
		expect(await signIn(address, sameFirst72Bytes)).toEqual({ status: 401, signedIn: false });
		expect(await signIn(address, password)).toEqual({ status: 303, signedIn: true });
	});

	it('an absurdly long password is refused without effort or error', async () => {
		await signUpOwner();
		const response = await new TestClient(app.url).postForm('/login', {
			email,
			password: eightyChars + 'x'.repeat(200_000)
		});
		expect(response.status).toBe(400);
		await response.body?.cancel();
	});
});

async function workspaceOf(client: TestClient): Promise<string | undefined> {
	const response = await client.request('/api/v1/workspaces');
	return ((await response.json()) as { id: string }[])[0]?.id;
}

describe('weak passwords at sign-up', () => {
	it.each([
		{ label: 'password123', password: 'password123', message: /too common/i },
		{ label: 'qwertyuiop', password: 'qwertyuiop', message: /too common/i },
		{ label: 'a 5-character one', password: 'short', message: /at least 8/i },
		{ label: 'a 257-character one', password: 'x'.repeat(257), message: /at most 256/i }
	])('refuses $label with a message, and creates no account', async ({ password, message }) => {
		const inviter = await signUpOwner();
		const invite = await inviteToken(inviter, (await workspaceOf(inviter)) ?? '', 'viewer');
		const address = uniqueEmail('weak');
		const client = new TestClient(app.url);
		// As the browser does: the form posts back to the invite link's URL.
		const response = await client.postForm(`/signup?invite=${invite}`, {
			name: 'Weak',
			email: address,
			password,
			invite
		});
		expect(response.status).toBe(400);
		expect(fieldError(await response.text(), 'password')).toMatch(message);
		expect(client.cookies.size).toBe(0);
		// The invite was not used up either: it still works with a good password.
		const retry = await client.postForm('/signup', {
			name: 'Weak',
			email: address,
			password: 'a much better passphrase 2026',
			invite
		});
		expect(retry.status).toBe(303);
	});
});
