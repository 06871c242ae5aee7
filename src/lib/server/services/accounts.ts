import { sql } from 'drizzle-orm';
import { hashPassword, passwordProblem, verifyPassword } from '../auth/password.ts';
import type { RatePolicy } from '../auth/rate-limit.ts';
import { createSession } from '../auth/session.ts';
import type { Db } from '../db/index.ts';
import * as invites from '../db/invites.ts';
import type { Session, User } from '../db/schema/index.ts';
import * as sessions from '../db/sessions.ts';
import * as settings from '../db/settings.ts';
import * as users from '../db/users.ts';
import * as workspaces from '../db/workspaces.ts';
import { randomToken } from '../platform/crypto.ts';
import { audited, recordAudit } from './audit.ts';
import { findUsableInvite } from './workspaces.ts';
import { ServiceError } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { announceAccessChange } from '../bus/access.ts';

export const signInPolicies = {
	// Per client address: 20 attempts a minute.
	address: { name: 'sign-in-address', points: 20, duration: 60 },
	// Per account: 10 tries per 10 minutes. The count ends with its window (no permanent lockout),
	// though a patient attacker can keep an account at that pace; the per-address count is checked first.
	account: { name: 'sign-in-account', points: 10, duration: 600 }
} satisfies Record<string, RatePolicy>;

/** Per signed-in person: the current password is checked at the sign-in account's pace. */
const passwordChangePolicy: RatePolicy = { name: 'password-change', points: 10, duration: 600 };

/**
 * Per client address: 10 self-service sign-ups an hour. The first account and sign-ups with a usable
 * invite are not counted (an administrator asked for them), nor those refused before any work.
 */
export const signUpPolicy: RatePolicy = { name: 'sign-up-address', points: 10, duration: 3600 };

// Serializes sign-ups so that exactly one account becomes the first (admin) account.
const signupLockKey = 7_215_540_114;

export interface SignUpInput {
	email: string;
	name: string;
	password: string;
	inviteToken?: string | null;
}

export type SignUpResult =
	| { status: 'active'; user: User; token: string; session: Session }
	| { status: 'pending'; user: User };

function checkNewPassword(password: string, field = 'password'): void {
	const problem = passwordProblem(password);
	if (problem) throw new ServiceError('invalid', problem, { fields: { [field]: problem } });
}

/** A workspace of one's own, named after its owner. */
export async function createPersonalWorkspace(db: Db, user: User): Promise<string> {
	const base =
		user.name
			.toLowerCase()
			.replace(/[^a-z0-9]+/g, '-')
			.replace(/^-|-$/g, '')
			.slice(0, 32) || 'workspace';
	const workspace = await workspaces.create(db, {
		name: `${user.name}'s workspace`,
		slug: `${base}-${randomToken(5)}`
	});
	await workspaces.addMember(db, { workspaceId: workspace.id, userId: user.id, role: 'owner' });
	return workspace.id;
}

/** Whether a sign-up may proceed: the first account, a usable invite, or the instance's mode. */
async function signupAdmission(db: Db, inviteToken: string | null | undefined, now: Date) {
	const first = (await users.countAll(db)) === 0;
	const mode = (await settings.get(db)).signupMode;
	const invite = inviteToken ? await findUsableInvite(db, inviteToken, now) : null;
	if (inviteToken && !invite) {
		throw new ServiceError('invalid', 'This invite link is invalid, used or expired.');
	}
	if (!first && !invite && mode === 'invite-only') {
		throw new ServiceError(
			'forbidden',
			'Sign-up is by invitation only. Ask an administrator for an invite link.'
		);
	}
	return { first, mode, invite };
}

export async function signUp(
	ctx: ServiceContext,
	input: SignUpInput,
	meta: RequestMeta
): Promise<SignUpResult> {
	checkNewPassword(input.password);
	const now = ctx.now();
	// The cheap checks first, so refused sign-ups cost no bcrypt round; they are repeated under the lock.
	const admission = await signupAdmission(ctx.db, input.inviteToken, now);
	if (!admission.first && !admission.invite)
		await throttle(ctx, [[meta.ip ?? 'unknown', signUpPolicy]], 'sign-ups from this address');
	const passwordHash = await hashPassword(input.password, ctx.keys.pepper, ctx.bcryptCost);
	const created = await ctx.db.transaction(async (tx) => {
		await tx.execute(sql`select pg_advisory_xact_lock(${signupLockKey})`);
		// Admission before the e-mail check: whether an address is registered is nobody's business.
		const { first, mode, invite } = await signupAdmission(tx, input.inviteToken, now);
		if (await users.getByEmail(tx, input.email)) {
			throw new ServiceError('conflict', 'An account with this e-mail address already exists.', {
				fields: { email: 'Already registered.' }
			});
		}
		const status = first || invite || mode === 'open' ? 'active' : 'pending';
		const user = await users.create(tx, {
			email: input.email,
			name: input.name,
			passwordHash,
			status,
			isInstanceAdmin: first
		});
		let workspaceId: string | null = null;
		if (invite) {
			if (!(await invites.markAccepted(tx, invite.invite.id, user.id, now))) {
				throw new ServiceError('invalid', 'This invite link is invalid, used or expired.');
			}
			await workspaces.addMember(tx, {
				workspaceId: invite.workspace.id,
				userId: user.id,
				role: invite.invite.role
			});
			workspaceId = invite.workspace.id;
		} else if (status === 'active') {
			workspaceId = await createPersonalWorkspace(tx, user);
		}
		await recordAudit(tx, meta, {
			action: 'auth.sign_up',
			actorUserId: user.id,
			workspaceId,
			target: { type: 'user', id: user.id },
			details: { status, instanceAdmin: first, via: invite ? 'invite' : mode }
		});
		if (invite) {
			await recordAudit(tx, meta, {
				action: 'workspace.invite_accepted',
				actorUserId: user.id,
				workspaceId,
				target: { type: 'invite', id: invite.invite.id },
				details: { role: invite.invite.role }
			});
		}
		return { user, workspaceId };
	});
	if (created.user.status !== 'active') return { status: 'pending', user: created.user };
	const { token, session } = await createSession(ctx.db, created.user.id, now, {
		twoFactorVerified: true,
		activeWorkspaceId: created.workspaceId,
		...meta
	});
	return { status: 'active', user: created.user, token, session };
}

// A real bcrypt hash to compare against when the account does not exist, so both paths cost the same.
const dummyHashes = new Map<string, Promise<string>>();
function dummyHash(ctx: ServiceContext): Promise<string> {
	const key = `${ctx.bcryptCost}`;
	let hash = dummyHashes.get(key);
	if (!hash)
		dummyHashes.set(key, (hash = hashPassword(randomToken(), ctx.keys.pepper, ctx.bcryptCost)));
	return hash;
}

export type SignInResult = {
	token: string;
	session: Session;
	user: User;
	twoFactorRequired: boolean;
};

/** "3 minutes", "45 seconds": how long to wait, for a message. */
function waitText(seconds: number): string {
	if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
	return `${Math.ceil(seconds / 60)} minutes`;
}

export async function throttle(
	ctx: ServiceContext,
	keys: [string, RatePolicy][],
	what = 'attempts'
) {
	// In order, stopping at the first refusal: a throttled address spends nothing from the account's count.
	for (const [key, policy] of keys) {
		const { allowed, retryAfterSeconds } = await ctx.limiter.consume(key, policy);
		if (!allowed) {
			throw new ServiceError(
				'rate-limited',
				`Too many ${what}. Try again in ${waitText(retryAfterSeconds)}.`,
				{ retryAfterSeconds }
			);
		}
	}
}

export async function signIn(
	ctx: ServiceContext,
	input: { email: string; password: string },
	meta: RequestMeta
): Promise<SignInResult> {
	const accountKey = input.email.toLowerCase();
	try {
		await throttle(ctx, [
			[meta.ip ?? 'unknown', signInPolicies.address],
			[accountKey, signInPolicies.account]
		]);
	} catch (error) {
		await recordAudit(ctx.db, meta, {
			action: 'auth.sign_in_throttled',
			details: { email: input.email }
		});
		throw error;
	}
	const user = await users.getByEmail(ctx.db, input.email);
	const valid = await verifyPassword(
		input.password,
		user?.passwordHash ?? (await dummyHash(ctx)),
		ctx.keys.pepper
	);
	if (!user || !valid) {
		await recordAudit(ctx.db, meta, {
			action: 'auth.sign_in_failed',
			actorUserId: user?.id ?? null,
			details: { email: input.email, reason: user ? 'wrong password' : 'unknown account' }
		});
		throw new ServiceError('unauthorized', 'Incorrect e-mail address or password.');
	}
	if (user.status === 'pending')
		throw new ServiceError(
			'forbidden',
			'Your account is waiting for an administrator to approve it.'
		);
	if (user.status === 'disabled')
		throw new ServiceError('forbidden', 'This account has been disabled.');
	const twoFactorRequired = user.totpEnabledAt !== null;
	const [firstWorkspace] = await workspaces.listForUser(ctx.db, user.id);
	const { token, session } = await audited(
		ctx.db,
		meta,
		(tx) =>
			createSession(tx, user.id, ctx.now(), {
				twoFactorVerified: !twoFactorRequired,
				activeWorkspaceId: firstWorkspace?.id ?? null,
				...meta
			}),
		{
			action: twoFactorRequired ? 'auth.password_verified' : 'auth.sign_in',
			actorUserId: user.id,
			target: { type: 'user', id: user.id }
		}
	);
	await ctx.limiter.reset(accountKey, signInPolicies.account);
	return { token, session, user, twoFactorRequired };
}

export async function signOut(
	ctx: ServiceContext,
	principal: Principal,
	meta: RequestMeta
): Promise<void> {
	if (principal.kind !== 'session') return;
	await audited(ctx.db, meta, (tx) => sessions.remove(tx, principal.session.id), {
		action: 'auth.sign_out',
		actorUserId: principal.user.id
	});
	await announceAccessChange(ctx, principal.user.id);
}

export async function changePassword(
	ctx: ServiceContext,
	principal: Principal,
	input: { currentPassword: string; newPassword: string },
	meta: RequestMeta
): Promise<void> {
	if (principal.kind !== 'session')
		throw new ServiceError('forbidden', 'Passwords are changed from a signed-in browser.');
	await throttle(ctx, [[principal.user.id, passwordChangePolicy]]);
	if (
		!(await verifyPassword(input.currentPassword, principal.user.passwordHash, ctx.keys.pepper))
	) {
		throw new ServiceError('invalid', 'The current password is not correct.', {
			fields: { currentPassword: 'Not correct.' }
		});
	}
	checkNewPassword(input.newPassword, 'newPassword');
	const passwordHash = await hashPassword(input.newPassword, ctx.keys.pepper, ctx.bcryptCost);
	await ctx.db.transaction(async (tx) => {
		await users.update(tx, principal.user.id, { passwordHash });
		// Whoever else holds a session (perhaps the reason for the change) is signed out.
		await sessions.removeAllForUser(tx, principal.user.id, principal.session.id);
		await recordAudit(tx, meta, {
			action: 'auth.password_changed',
			actorUserId: principal.user.id,
			target: { type: 'user', id: principal.user.id }
		});
	});
	await announceAccessChange(ctx, principal.user.id);
}

export async function updateProfile(
	ctx: ServiceContext,
	principal: Principal,
	input: { name: string; email: string },
	meta: RequestMeta
): Promise<User> {
	const existing = await users.getByEmail(ctx.db, input.email);
	if (existing && existing.id !== principal.user.id) {
		throw new ServiceError('conflict', 'Another account uses this e-mail address.', {
			fields: { email: 'Already registered.' }
		});
	}
	return audited(
		ctx.db,
		meta,
		async (tx) => {
			const updated = await users.update(tx, principal.user.id, input);
			if (!updated) throw new ServiceError('not-found', 'Account not found.');
			return updated;
		},
		(updated) => ({
			action: 'account.profile_updated',
			actorUserId: principal.user.id,
			target: { type: 'user', id: principal.user.id },
			details: { emailChanged: updated.email !== principal.user.email }
		})
	);
}

export async function listMySessions(ctx: ServiceContext, principal: Principal) {
	const all = await sessions.listForUser(ctx.db, principal.user.id);
	const now = ctx.now();
	return all
		.filter((session) => session.expiresAt > now)
		.map((session) => ({
			id: session.id,
			createdAt: session.createdAt,
			lastSeenAt: session.lastSeenAt,
			ip: session.ip,
			userAgent: session.userAgent,
			current: principal.kind === 'session' && principal.session.id === session.id
		}));
}

export async function revokeMySession(
	ctx: ServiceContext,
	principal: Principal,
	sessionId: string,
	meta: RequestMeta
): Promise<void> {
	await audited(
		ctx.db,
		meta,
		async (tx) => {
			if (!(await sessions.removeForUser(tx, principal.user.id, sessionId)))
				throw new ServiceError('not-found', 'Session not found.');
		},
		{
			action: 'auth.session_revoked',
			actorUserId: principal.user.id,
			target: { type: 'session', id: sessionId.slice(0, 12) }
		}
	);
	await announceAccessChange(ctx, principal.user.id);
}
