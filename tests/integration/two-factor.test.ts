import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { generateHOTP, generateTOTP } from '@oslojs/otp';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateSessionToken } from '../../src/lib/server/auth/session.ts';
import * as audit from '../../src/lib/server/db/audit.ts';
import * as settings from '../../src/lib/server/db/settings.ts';
import * as users from '../../src/lib/server/db/users.ts';
import { signIn, signInPolicies } from '../../src/lib/server/services/accounts.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import {
	requiresTwoFactor,
	updateInstanceSettings
} from '../../src/lib/server/services/instance.ts';
import { authenticateApiToken, createApiToken } from '../../src/lib/server/services/tokens.ts';
import {
	beginTwoFactorEnrolment,
	completeTwoFactorSignIn,
	confirmTwoFactorEnrolment,
	disableTwoFactor,
	regenerateRecoveryCodes
} from '../../src/lib/server/services/two-factor.ts';
import { useTestDatabase } from '../helpers/database.ts';
import {
	createTestServices,
	meta,
	principalFor,
	signUpUser,
	strongPassword
} from '../helpers/services.ts';

const testDb = useTestDatabase();
type Ctx = ReturnType<typeof createTestServices>;

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
	try {
		await promise;
	} catch (error) {
		if (error instanceof ServiceError) return error;
		throw error;
	}
	throw new Error('expected a ServiceError');
}

/** What an authenticator app shows right now for this secret. */
function currentCode(secret: string): string {
	return generateTOTP(decodeBase32IgnorePadding(secret), 30, 6);
}

/** The code of the window `offset` steps from now (the server accepts -1, 0 and +1). */
function codeAt(secret: string, offset: number): string {
	const step = BigInt(Math.floor(Date.now() / 30_000) + offset);
	return generateHOTP(decodeBase32IgnorePadding(secret), step, 6);
}

/** A six-digit code that is valid in no window the server accepts (previous, current, next). */
function wrongCode(secret: string): string {
	const key = decodeBase32IgnorePadding(secret);
	const step = BigInt(Math.floor(Date.now() / 30_000));
	const valid = new Set(
		[-2n, -1n, 0n, 1n, 2n].map((offset) => generateHOTP(key, step + offset, 6))
	);
	for (let n = 0; ; n++) {
		const code = String(n).padStart(6, '0');
		if (!valid.has(code)) return code;
	}
}

/**
 * An active account with two-factor sign-in on; returns its secret and recovery codes. Enrolment uses
 * the previous window's code, so the current one is still unused for the sign-in that follows.
 */
async function enrolledUser(ctx: Ctx) {
	const user = await signUpUser(ctx);
	const { secret } = await beginTwoFactorEnrolment(ctx, user.principal);
	const principal = await principalFor(ctx, user.token);
	const codes = await confirmTwoFactorEnrolment(ctx, principal, codeAt(secret, -1), meta);
	return { ...user, secret, recoveryCodes: codes };
}

/** The first sign-in step; the principal of the half-signed-in session. */
async function passwordStep(ctx: Ctx, email: string) {
	const result = await signIn(ctx, { email, password: strongPassword }, meta);
	return { ...result, principal: await principalFor(ctx, result.token) };
}

let admin: Awaited<ReturnType<typeof signUpUser>>;

beforeAll(async () => {
	// The first account on the database: the instance admin.
	admin = await signUpUser(createTestServices(testDb.database), { name: 'Admin' });
	expect(admin.user.isInstanceAdmin).toBe(true);
});

describe('enrolment', () => {
	it('refuses a wrong code, then turns on with a right one and returns 10 recovery codes', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const { secret, uri } = await beginTwoFactorEnrolment(ctx, user.principal);
		expect(decodeBase32IgnorePadding(secret)).toHaveLength(20);
		expect(uri).toMatch(/^otpauth:\/\/totp\//);
		expect(new URL(uri).searchParams.get('secret')).toBe(secret);
		// The key is stored sealed, not as the secret the user sees.
		const stored = await users.get(ctx.db, user.user.id);
		expect(stored?.totpSecret).toBeTruthy();
		expect(stored?.totpSecret).not.toContain(secret);
		expect(stored?.totpEnabledAt).toBeNull();

		const pending = await principalFor(ctx, user.token);
		expect(
			await failure(confirmTwoFactorEnrolment(ctx, pending, wrongCode(secret), meta))
		).toMatchObject({ type: 'invalid', fields: { code: expect.any(String) } });
		expect((await users.get(ctx.db, user.user.id))?.totpEnabledAt).toBeNull();

		const codes = await confirmTwoFactorEnrolment(
			ctx,
			await principalFor(ctx, user.token),
			currentCode(secret),
			meta
		);
		expect(codes).toHaveLength(10);
		expect(new Set(codes).size).toBe(10);
		for (const code of codes) expect(code.replace(/-/g, '')).toMatch(/^[a-z2-7]{16}$/);
		expect((await users.get(ctx.db, user.user.id))?.totpEnabledAt).not.toBeNull();
		expect(
			await failure(beginTwoFactorEnrolment(ctx, await principalFor(ctx, user.token)))
		).toMatchObject({ type: 'conflict' });
	});

	it('a restarted enrolment discards the first key', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const first = await beginTwoFactorEnrolment(ctx, user.principal);
		await beginTwoFactorEnrolment(ctx, await principalFor(ctx, user.token));
		expect(
			(
				await failure(
					confirmTwoFactorEnrolment(
						ctx,
						await principalFor(ctx, user.token),
						currentCode(first.secret),
						meta
					)
				)
			).type
		).toBe('invalid');
	});

	it('is managed from a browser session only, never with an API token', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const { token } = await createApiToken(
			ctx,
			user.principal,
			{ name: 't', scopes: ['read', 'write', 'run', 'admin'], expiresInDays: 1 },
			meta
		);
		const viaToken = (await authenticateApiToken(ctx, token)) as Principal;
		for (const attempt of [
			() => beginTwoFactorEnrolment(ctx, viaToken),
			() => confirmTwoFactorEnrolment(ctx, viaToken, '123456', meta),
			() => disableTwoFactor(ctx, viaToken, strongPassword, meta),
			() => regenerateRecoveryCodes(ctx, viaToken, meta)
		])
			expect((await failure(attempt())).type).toBe('forbidden');
	});
});

describe('signing in with a second factor', () => {
	it('requires the second step; a TOTP code completes it and rotates the session token', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const half = await passwordStep(ctx, user.email);
		expect(half.twoFactorRequired).toBe(true);
		expect(half.session.twoFactorVerified).toBe(false);

		const next = await completeTwoFactorSignIn(ctx, half.principal, currentCode(user.secret), meta);
		expect(next.token).not.toBe(half.token);
		expect(await validateSessionToken(ctx.db, half.token, ctx.now())).toBeNull();
		const full = await validateSessionToken(ctx.db, next.token, ctx.now());
		expect(full?.session.twoFactorVerified).toBe(true);
		expect(full?.session.id).not.toBe(half.session.id);
		// A verified session has nothing left to complete.
		expect(
			(
				await failure(
					completeTwoFactorSignIn(
						ctx,
						await principalFor(ctx, next.token),
						currentCode(user.secret),
						meta
					)
				)
			).type
		).toBe('conflict');
	});

	it('refuses a wrong code, audits it, and leaves the session half signed in', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const half = await passwordStep(ctx, user.email);
		expect(
			await failure(completeTwoFactorSignIn(ctx, half.principal, wrongCode(user.secret), meta))
		).toMatchObject({ type: 'invalid', status: 400 });
		const session = await validateSessionToken(ctx.db, half.token, ctx.now());
		expect(session?.session.twoFactorVerified).toBe(false);
		const failed = await audit.list(ctx.db, { action: 'auth.two_factor_failed', limit: 50 });
		expect(failed.map((entry) => entry.actorUserId)).toContain(user.user.id);
	});

	it('does not accept the same TOTP code twice (RFC 6238 §5.2: no replay)', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const first = await passwordStep(ctx, user.email);
		const code = currentCode(user.secret);
		await completeTwoFactorSignIn(ctx, first.principal, code, meta);
		// Someone who saw that code (over a shoulder, through a phishing proxy) and knows the password.
		const second = await passwordStep(ctx, user.email);
		expect(await failure(completeTwoFactorSignIn(ctx, second.principal, code, meta))).toMatchObject(
			{ type: 'invalid' }
		);
		// The next window's code is a new code and works.
		await completeTwoFactorSignIn(ctx, second.principal, codeAt(user.secret, 1), meta);
	});

	it('a recovery code works once, in any spelling, and never again', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const [code, other] = user.recoveryCodes;
		if (!code || !other) throw new Error('no recovery codes');

		const half = await passwordStep(ctx, user.email);
		const next = await completeTwoFactorSignIn(
			ctx,
			half.principal,
			` ${code.toUpperCase()} `,
			meta
		);
		expect((await validateSessionToken(ctx.db, next.token, ctx.now()))?.session).toMatchObject({
			twoFactorVerified: true
		});

		const again = await passwordStep(ctx, user.email);
		expect((await failure(completeTwoFactorSignIn(ctx, again.principal, code, meta))).type).toBe(
			'invalid'
		);
		expect(
			(await failure(completeTwoFactorSignIn(ctx, again.principal, code.replace(/-/g, ''), meta)))
				.type
		).toBe('invalid');
		// The other nine still work.
		await completeTwoFactorSignIn(ctx, again.principal, other, meta);
	});

	it('a recovery code is used up only by a sign-in that completes and is recorded', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const [code] = user.recoveryCodes;
		if (!code) throw new Error('no recovery codes');
		const half = await passwordStep(ctx, user.email);
		// PostgreSQL refuses NUL in text: the new session and its audit entry cannot be written.
		const unstorable = { ip: meta.ip, userAgent: 'vitest\u0000' };
		await expect(
			completeTwoFactorSignIn(ctx, half.principal, code, unstorable)
		).rejects.not.toBeInstanceOf(ServiceError);
		// Nothing happened: the code still works, once.
		await completeTwoFactorSignIn(ctx, half.principal, code, meta);
		const again = await passwordStep(ctx, user.email);
		expect((await failure(completeTwoFactorSignIn(ctx, again.principal, code, meta))).type).toBe(
			'invalid'
		);
	});

	it('regenerating recovery codes invalidates the old ones', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const fresh = await regenerateRecoveryCodes(ctx, await principalFor(ctx, user.token), meta);
		expect(fresh).toHaveLength(10);
		const half = await passwordStep(ctx, user.email);
		expect(
			(
				await failure(
					completeTwoFactorSignIn(ctx, half.principal, user.recoveryCodes[0] ?? '', meta)
				)
			).type
		).toBe('invalid');
		await completeTwoFactorSignIn(ctx, half.principal, fresh[0] ?? '', meta);
	});

	it('throttles code guessing per account: even the right code waits, then works', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const half = await passwordStep(ctx, user.email);
		const guess = () =>
			failure(completeTwoFactorSignIn(ctx, half.principal, wrongCode(user.secret), meta));
		let refused = await guess();
		let guesses = 1;
		while (refused.type === 'invalid') {
			refused = await guess();
			guesses += 1;
		}
		expect(refused).toMatchObject({ type: 'rate-limited', status: 429 });
		expect(guesses).toBeLessThanOrEqual(10);
		expect(refused.retryAfterSeconds).toBeGreaterThan(0);
		// A new half-signed-in session does not reset the count.
		const other = await passwordStep(ctx, user.email);
		expect(
			(await failure(completeTwoFactorSignIn(ctx, other.principal, currentCode(user.secret), meta)))
				.type
		).toBe('rate-limited');

		ctx.clock.advance((refused.retryAfterSeconds ?? 0) * 1000);
		const next = await completeTwoFactorSignIn(ctx, half.principal, currentCode(user.secret), meta);
		expect(next.token).toBeTruthy();
	});

	it('forgives no failed sign-ins of another account when a code is tried later', async () => {
		const ctx = createTestServices(testDb.database);
		const guessed = await signUpUser(ctx);
		const enrolled = await enrolledUser(ctx);
		const half = await passwordStep(ctx, enrolled.email);
		// Each guess from its own address: what is counted here is the account.
		let address = 0;
		const guess = async () => {
			address += 1;
			const from = { ...meta, ip: `198.51.100.${address}` };
			return (await failure(signIn(ctx, { email: guessed.email, password: 'a wrong guess' }, from)))
				.type;
		};
		for (let i = 0; i < 4; i++) expect(await guess()).toBe('unauthorized');
		ctx.clock.advance(61_000);
		expect(
			(
				await failure(
					completeTwoFactorSignIn(ctx, half.principal, wrongCode(enrolled.secret), meta)
				)
			).type
		).toBe('invalid');
		let allowed = 0;
		while ((await guess()) === 'unauthorized') allowed += 1;
		expect(allowed).toBe(signInPolicies.account.points - 4);
	});
});

describe('turning it off', () => {
	it('requires the password', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await enrolledUser(ctx);
		const principal = await principalFor(ctx, user.token);
		expect(await failure(disableTwoFactor(ctx, principal, 'not my password', meta))).toMatchObject({
			type: 'invalid',
			fields: { password: expect.any(String) }
		});
		expect((await passwordStep(ctx, user.email)).twoFactorRequired).toBe(true);

		await disableTwoFactor(ctx, principal, strongPassword, meta);
		const stored = await users.get(ctx.db, user.user.id);
		expect(stored).toMatchObject({ totpSecret: null, totpEnabledAt: null });
		expect((await passwordStep(ctx, user.email)).twoFactorRequired).toBe(false);
	});
});

describe('instance-wide requirement', () => {
	it('only an admin with two-factor sign-in of their own can require it, and then nobody can turn theirs off', async () => {
		const ctx = createTestServices(testDb.database);
		const on = { signupMode: 'invite-only' as const, requireTwoFactor: true };
		const off = { signupMode: 'invite-only' as const, requireTwoFactor: false };

		const member = await enrolledUser(ctx);
		expect(
			(await failure(updateInstanceSettings(ctx, await principalFor(ctx, member.token), on, meta)))
				.type
		).toBe('forbidden');

		const adminPrincipal = await principalFor(ctx, admin.token);
		expect(await failure(updateInstanceSettings(ctx, adminPrincipal, on, meta))).toMatchObject({
			type: 'invalid',
			message: expect.stringMatching(/your own account/)
		});
		expect(await requiresTwoFactor(ctx)).toBe(false);

		const { secret } = await beginTwoFactorEnrolment(ctx, adminPrincipal);
		await confirmTwoFactorEnrolment(
			ctx,
			await principalFor(ctx, admin.token),
			currentCode(secret),
			meta
		);
		await updateInstanceSettings(ctx, await principalFor(ctx, admin.token), on, meta);
		try {
			expect(await requiresTwoFactor(ctx)).toBe(true);
			expect(
				(
					await failure(
						disableTwoFactor(ctx, await principalFor(ctx, member.token), strongPassword, meta)
					)
				).type
			).toBe('forbidden');
		} finally {
			await updateInstanceSettings(ctx, await principalFor(ctx, admin.token), off, meta);
		}
		expect((await settings.get(ctx.db)).requireTwoFactor).toBe(false);
	});
});
