import { isUuid } from '../ids.ts';
import * as settings from '../db/settings.ts';
import type { SignupMode } from '../db/schema/index.ts';
import * as users from '../db/users.ts';
import { can } from '../policy.ts';
import { createPersonalWorkspace } from './accounts.ts';
import { recordAudit } from './audit.ts';
import { ServiceError, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';

function requireAdmin(principal: Principal, action: 'instance.settings' | 'instance.users'): void {
	if (!can(principal, action, 'instance'))
		throw new ServiceError('forbidden', 'Only instance admins can do that.');
}

/** Public: the sign-up page needs to know whether it is open (it always is for the very first account). */
export async function signupState(
	ctx: ServiceContext
): Promise<{ mode: SignupMode; firstAccount: boolean }> {
	const [current, accounts] = await Promise.all([settings.get(ctx.db), users.countAll(ctx.db)]);
	return { mode: current.signupMode, firstAccount: accounts === 0 };
}

// Read on every signed-in request by the guard, changed almost never: cached briefly per process.
// Another replica sees a change within this window.
const requirementCacheMs = 5_000;
const requirementCache = new WeakMap<object, { value: boolean; at: number }>();

export async function requiresTwoFactor(ctx: ServiceContext): Promise<boolean> {
	const cached = requirementCache.get(ctx.db);
	const now = Date.now();
	if (cached && now - cached.at < requirementCacheMs) return cached.value;
	const value = (await settings.get(ctx.db)).requireTwoFactor;
	requirementCache.set(ctx.db, { value, at: now });
	return value;
}

export async function getInstanceSettings(ctx: ServiceContext, principal: Principal) {
	requireAdmin(principal, 'instance.settings');
	const { signupMode, requireTwoFactor, updatedAt } = await settings.get(ctx.db);
	return { signupMode, requireTwoFactor, updatedAt };
}

export async function updateInstanceSettings(
	ctx: ServiceContext,
	principal: Principal,
	input: { signupMode: SignupMode; requireTwoFactor: boolean },
	meta: RequestMeta
) {
	requireAdmin(principal, 'instance.settings');
	if (input.requireTwoFactor && !principal.user.totpEnabledAt) {
		throw new ServiceError(
			'invalid',
			'Turn on two-factor sign-in for your own account before requiring it for everyone.'
		);
	}
	const updated = await ctx.db.transaction(async (tx) => {
		const before = await settings.get(tx);
		const after = await settings.update(tx, input);
		await recordAudit(tx, meta, {
			action: 'instance.settings_changed',
			actorUserId: principal.user.id,
			details: {
				from: { signupMode: before.signupMode, requireTwoFactor: before.requireTwoFactor },
				to: input
			}
		});
		return {
			signupMode: after.signupMode,
			requireTwoFactor: after.requireTwoFactor,
			updatedAt: after.updatedAt
		};
	});
	// Only once committed: a read between a delete and the commit would cache the old value again.
	requirementCache.delete(ctx.db);
	return updated;
}

export async function listPendingUsers(ctx: ServiceContext, principal: Principal) {
	requireAdmin(principal, 'instance.users');
	return (await users.listByStatus(ctx.db, 'pending')).map(({ id, email, name, createdAt }) => ({
		id,
		email,
		name,
		createdAt
	}));
}

export async function decideSignup(
	ctx: ServiceContext,
	principal: Principal,
	userId: string,
	approve: boolean,
	meta: RequestMeta
): Promise<void> {
	requireAdmin(principal, 'instance.users');
	await ctx.db.transaction(async (tx) => {
		const user = isUuid(userId)
			? await users.updateIfStatus(tx, userId, 'pending', approve ? 'active' : 'disabled')
			: null;
		if (!user) throw notFound('No pending account with that id.');
		if (approve) await createPersonalWorkspace(tx, user);
		await recordAudit(tx, meta, {
			action: approve ? 'auth.sign_up_approved' : 'auth.sign_up_rejected',
			actorUserId: principal.user.id,
			target: { type: 'user', id: userId }
		});
	});
}
