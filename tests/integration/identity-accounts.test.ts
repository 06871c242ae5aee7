import { describe, expect, it } from 'vitest';
import { sessionLifetime, validateSessionToken } from '../../src/lib/server/auth/session.ts';
import * as audit from '../../src/lib/server/db/audit.ts';
import * as settings from '../../src/lib/server/db/settings.ts';
import * as users from '../../src/lib/server/db/users.ts';
import {
	changePassword,
	listMySessions,
	revokeMySession,
	signIn,
	signUp,
	signUpPolicy
} from '../../src/lib/server/services/accounts.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import { decideSignup } from '../../src/lib/server/services/instance.ts';
import {
	createInvite,
	createWorkspace,
	listMyWorkspaces
} from '../../src/lib/server/services/workspaces.ts';
import { useTestDatabase } from '../helpers/database.ts';
import {
	createTestServices,
	meta,
	principalFor,
	signUpUser,
	strongPassword
} from '../helpers/services.ts';

const testDb = useTestDatabase();

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
	try {
		await promise;
	} catch (error) {
		if (error instanceof ServiceError) return error;
		throw error;
	}
	throw new Error('expected a ServiceError');
}

describe('accounts', () => {
	it('makes the first account instance admin and owner of a first workspace; then sign-up is invite-only', async () => {
		const ctx = createTestServices(testDb.database);
		const admin = await signUpUser(ctx, { name: 'Ada' });
		expect(admin.user.isInstanceAdmin).toBe(true);
		const workspaces = await listMyWorkspaces(ctx, admin.principal);
		expect(workspaces).toEqual([
			expect.objectContaining({ role: 'owner', name: "Ada's workspace" })
		]);

		const refused = await failure(
			signUp(ctx, { email: 'late@example.com', name: 'Late', password: strongPassword }, meta)
		);
		expect(refused).toMatchObject({ type: 'forbidden', status: 403 });
		await settings.update(ctx.db, { signupMode: 'open' });
		const second = await signUp(
			ctx,
			{ email: 'second@example.com', name: 'Second', password: strongPassword },
			meta
		);
		expect(second).toMatchObject({ status: 'active', user: { isInstanceAdmin: false } });
		await settings.update(ctx.db, { signupMode: 'invite-only' });
	});

	it('rejects weak, common and duplicate sign-ups with field messages', async () => {
		const ctx = createTestServices(testDb.database);
		await settings.update(ctx.db, { signupMode: 'open' });
		expect(
			await failure(signUp(ctx, { email: 'weak@example.com', name: 'W', password: 'short' }, meta))
		).toMatchObject({
			type: 'invalid',
			fields: { password: expect.stringMatching(/at least 8/) }
		});
		expect(
			await failure(
				signUp(ctx, { email: 'weak@example.com', name: 'W', password: 'password123' }, meta)
			)
		).toMatchObject({
			fields: { password: expect.stringMatching(/too common/) }
		});
		const taken = await signUpUser(ctx);
		expect(
			await failure(
				signUp(
					ctx,
					{ email: taken.email.toUpperCase(), name: 'Dup', password: strongPassword },
					meta
				)
			)
		).toMatchObject({
			type: 'conflict'
		});
		await settings.update(ctx.db, { signupMode: 'invite-only' });
	});

	it('holds approval-mode accounts until an admin approves them', async () => {
		const ctx = createTestServices(testDb.database);
		const admin = await signUpUser(ctx);
		const adminPrincipal = {
			...admin.principal,
			user: { ...admin.principal.user, isInstanceAdmin: true }
		};
		await settings.update(ctx.db, { signupMode: 'approval' });
		const pending = await signUp(
			ctx,
			{ email: 'pending@example.com', name: 'Pat', password: strongPassword },
			meta
		);
		expect(pending.status).toBe('pending');
		expect(
			await failure(signIn(ctx, { email: 'pending@example.com', password: strongPassword }, meta))
		).toMatchObject({
			type: 'forbidden',
			message: expect.stringMatching(/waiting for an administrator/)
		});
		await decideSignup(ctx, adminPrincipal, pending.user.id, true, meta);
		const signedIn = await signIn(
			ctx,
			{ email: 'pending@example.com', password: strongPassword },
			meta
		);
		expect(signedIn.twoFactorRequired).toBe(false);
		await settings.update(ctx.db, { signupMode: 'invite-only' });
	});

	it('limits self-service sign-ups per address; invited people and other addresses are not held up', async () => {
		const ctx = createTestServices(testDb.database);
		const owner = await signUpUser(ctx);
		const team = await createWorkspace(ctx, owner.principal, { name: 'Team' }, meta);
		const office = { ...meta, ip: '192.0.2.77' };
		const run = Math.random().toString(36).slice(2, 8);
		const signUpAs = (name: string, from = office, inviteToken: string | null = null) =>
			signUp(
				ctx,
				{ email: `${name}-${run}@example.com`, name, password: strongPassword, inviteToken },
				from
			);
		await settings.update(ctx.db, { signupMode: 'open' });
		try {
			for (let i = 0; i < signUpPolicy.points; i++)
				expect((await signUpAs(`walkin${i}`)).status).toBe('active');
			const refused = await failure(signUpAs('one-too-many'));
			expect(refused).toMatchObject({
				type: 'rate-limited',
				status: 429,
				retryAfterSeconds: signUpPolicy.duration,
				message: 'Too many sign-ups from this address. Try again in 60 minutes.'
			});
			expect(await users.getByEmail(ctx.db, `one-too-many-${run}@example.com`)).toBeNull();

			const invite = await createInvite(ctx, owner.principal, team.id, { role: 'viewer' }, meta);
			expect((await signUpAs('invited', office, invite.token)).status).toBe('active');
			expect((await signUpAs('elsewhere', { ...meta, ip: '192.0.2.78' })).status).toBe('active');
			ctx.clock.advance(signUpPolicy.duration * 1000);
			expect((await signUpAs('next-hour')).status).toBe('active');
		} finally {
			await settings.update(ctx.db, { signupMode: 'invite-only' });
		}
	});

	it('answers unknown accounts and wrong passwords alike, and audits both', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const wrong = await failure(
			signIn(ctx, { email: user.email, password: 'not the password' }, meta)
		);
		const unknown = await failure(
			signIn(ctx, { email: 'nobody@example.com', password: 'not the password' }, meta)
		);
		expect(wrong.message).toBe(unknown.message);
		expect(wrong.status).toBe(401);
		const entries = await audit.list(ctx.db, { action: 'auth.sign_in_failed', limit: 10 });
		expect(entries.map((entry) => entry.details.email)).toEqual(
			expect.arrayContaining([user.email, 'nobody@example.com'])
		);
	});

	it('throttles guessing on one account and releases it as time passes, without a permanent lockout', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const attempt = (ip: string) =>
			failure(signIn(ctx, { email: user.email, password: 'guess guess guess' }, { ...meta, ip }));
		for (let i = 0; i < 10; i++)
			expect((await attempt(`198.51.100.${i}`)).type).toBe('unauthorized');
		const throttled = await attempt('198.51.100.99');
		expect(throttled).toMatchObject({ type: 'rate-limited', status: 429 });
		expect(throttled.retryAfterSeconds).toBeGreaterThan(0);
		ctx.clock.advance((throttled.retryAfterSeconds ?? 0) * 1000);
		const signedIn = await signIn(ctx, { email: user.email, password: strongPassword }, meta);
		expect(signedIn.user.id).toBe(user.user.id);
	});

	it('throttles one address trying many accounts', async () => {
		const ctx = createTestServices(testDb.database);
		const ip = '192.0.2.55';
		let last: ServiceError | undefined;
		for (let i = 0; i < 21; i++)
			last = await failure(
				signIn(ctx, { email: `spray${i}@example.com`, password: 'x'.repeat(10) }, { ...meta, ip })
			);
		expect(last?.type).toBe('rate-limited');
	});

	it('issues a new session at every sign-in (no fixation) and ends other sessions on password change', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const laptop = await signIn(ctx, { email: user.email, password: strongPassword }, meta);
		const phone = await signIn(ctx, { email: user.email, password: strongPassword }, meta);
		expect(new Set([user.token, laptop.token, phone.token]).size).toBe(3);
		const laptopPrincipal = await principalFor(ctx, laptop.token);
		expect(await listMySessions(ctx, laptopPrincipal)).toHaveLength(3);

		await changePassword(
			ctx,
			laptopPrincipal,
			{ currentPassword: strongPassword, newPassword: 'a brand new passphrase' },
			meta
		);
		expect(await validateSessionToken(ctx.db, phone.token, ctx.now())).toBeNull();
		expect(await validateSessionToken(ctx.db, user.token, ctx.now())).toBeNull();
		expect(await validateSessionToken(ctx.db, laptop.token, ctx.now())).not.toBeNull();
		expect(
			(await failure(signIn(ctx, { email: user.email, password: strongPassword }, meta))).type
		).toBe('unauthorized');
	});

	it('revokes a session at once', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const other = await signIn(ctx, { email: user.email, password: strongPassword }, meta);
		await revokeMySession(ctx, user.principal, other.session.id, meta);
		expect(await validateSessionToken(ctx.db, other.token, ctx.now())).toBeNull();
		expect((await failure(revokeMySession(ctx, user.principal, 'f'.repeat(64), meta))).type).toBe(
			'not-found'
		);
	});

	it('expires sessions after the idle limit, slides with use, and stops at the absolute limit', async () => {
		const ctx = createTestServices(testDb.database);
		const user = await signUpUser(ctx);
		const day = 24 * 60 * 60 * 1000;
		// Used every 6 days: the idle expiry (7 days) keeps sliding …
		for (let elapsed = 6; elapsed < 30; elapsed += 6) {
			ctx.clock.advance(6 * day);
			expect(await validateSessionToken(ctx.db, user.token, ctx.now())).not.toBeNull();
		}
		// … but never past 30 days from sign-in.
		ctx.clock.advance(sessionLifetime.absoluteMs - 24 * day);
		expect(await validateSessionToken(ctx.db, user.token, ctx.now())).toBeNull();

		const idle = await signIn(ctx, { email: user.email, password: strongPassword }, meta);
		ctx.clock.advance(sessionLifetime.idleMs + 1);
		expect(await validateSessionToken(ctx.db, idle.token, ctx.now())).toBeNull();
	});
});
