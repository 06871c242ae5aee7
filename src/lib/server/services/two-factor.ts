import { and, eq, isNull } from 'drizzle-orm';
import { createSession } from '../auth/session.ts';
import { verifyPassword } from '../auth/password.ts';
import type { RatePolicy } from '../auth/rate-limit.ts';
import {
	generateRecoveryCodes,
	generateTotpKey,
	openTotpKey,
	recoveryCodeHash,
	sealTotpKey,
	totpUri,
	matchTotpStep
} from '../auth/totp.ts';
import type { Db } from '../db/index.ts';
import { recoveryCodes } from '../db/schema/index.ts';
import * as sessions from '../db/sessions.ts';
import * as settings from '../db/settings.ts';
import * as users from '../db/users.ts';
import { encodeBase32UpperCaseNoPadding } from '@oslojs/encoding';
import { audited, recordAudit } from './audit.ts';
import { throttle } from './accounts.ts';
import { ServiceError } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';

/** Per account, for enrolment and sign-in alike: 5 codes per 150 s (one every 30 s sustained). */
const twoFactorCodePolicy: RatePolicy = {
	name: 'two-factor-code',
	points: 5,
	duration: 150
};

/** A correct code whose time step has not been used before (a replayed code is refused). */
async function acceptTotpCode(
	db: Db,
	userId: string,
	sealedKey: string,
	encryptionKey: Buffer,
	code: string
) {
	const step = matchTotpStep(openTotpKey(encryptionKey, sealedKey), code);
	return step !== null && (await users.claimTotpStep(db, userId, step));
}

function sessionOnly(principal: Principal) {
	if (principal.kind !== 'session')
		throw new ServiceError(
			'forbidden',
			'Two-factor settings are managed from a signed-in browser.'
		);
	return principal;
}

/** Step 1: a new key, kept sealed on the account until a code from it is confirmed. */
export async function beginTwoFactorEnrolment(ctx: ServiceContext, principal: Principal) {
	const { user } = sessionOnly(principal);
	if (user.totpEnabledAt) throw new ServiceError('conflict', 'Two-factor sign-in is already on.');
	const key = generateTotpKey();
	await users.update(ctx.db, user.id, { totpSecret: sealTotpKey(ctx.keys.totp, key) });
	return { uri: totpUri(key, user.email), secret: encodeBase32UpperCaseNoPadding(key) };
}

async function replaceRecoveryCodes(db: Db, userId: string): Promise<string[]> {
	const codes = generateRecoveryCodes();
	await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
	await db
		.insert(recoveryCodes)
		.values(codes.map((code) => ({ userId, codeHash: recoveryCodeHash(code) })));
	return codes;
}

/** Marks an unused recovery code of the user used; false when the code is not one of them. */
async function useRecoveryCode(db: Db, userId: string, code: string, now: Date): Promise<boolean> {
	const used = await db
		.update(recoveryCodes)
		.set({ usedAt: now })
		.where(
			and(
				eq(recoveryCodes.userId, userId),
				eq(recoveryCodes.codeHash, recoveryCodeHash(code)),
				isNull(recoveryCodes.usedAt)
			)
		)
		.returning({ id: recoveryCodes.id });
	return used.length > 0;
}

/** Step 2: a correct code turns it on; the recovery codes are returned once. */
export async function confirmTwoFactorEnrolment(
	ctx: ServiceContext,
	principal: Principal,
	code: string,
	meta: RequestMeta
): Promise<string[]> {
	const { user, session } = sessionOnly(principal);
	await throttle(ctx, [[user.id, twoFactorCodePolicy]]);
	if (user.totpEnabledAt || !user.totpSecret)
		throw new ServiceError('conflict', 'Start the set-up again.');
	if (!(await acceptTotpCode(ctx.db, user.id, user.totpSecret, ctx.keys.totp, code))) {
		throw new ServiceError(
			'invalid',
			'That code is not correct. Check the time on your device and try again.',
			{ fields: { code: 'Not correct.' } }
		);
	}
	return ctx.db.transaction(async (tx) => {
		await users.update(tx, user.id, { totpEnabledAt: ctx.now() });
		await sessions.update(tx, session.id, { twoFactorVerified: true });
		const codes = await replaceRecoveryCodes(tx, user.id);
		await recordAudit(tx, meta, {
			action: 'auth.two_factor_enabled',
			actorUserId: user.id,
			target: { type: 'user', id: user.id }
		});
		return codes;
	});
}

export async function regenerateRecoveryCodes(
	ctx: ServiceContext,
	principal: Principal,
	meta: RequestMeta
): Promise<string[]> {
	const { user } = sessionOnly(principal);
	if (!user.totpEnabledAt) throw new ServiceError('conflict', 'Two-factor sign-in is off.');
	return ctx.db.transaction(async (tx) => {
		const codes = await replaceRecoveryCodes(tx, user.id);
		await recordAudit(tx, meta, {
			action: 'auth.recovery_codes_regenerated',
			actorUserId: user.id
		});
		return codes;
	});
}

export async function disableTwoFactor(
	ctx: ServiceContext,
	principal: Principal,
	password: string,
	meta: RequestMeta
): Promise<void> {
	const { user } = sessionOnly(principal);
	if ((await settings.get(ctx.db)).requireTwoFactor)
		throw new ServiceError('forbidden', 'This instance requires two-factor sign-in.');
	if (!(await verifyPassword(password, user.passwordHash, ctx.keys.pepper))) {
		throw new ServiceError('invalid', 'The password is not correct.', {
			fields: { password: 'Not correct.' }
		});
	}
	await ctx.db.transaction(async (tx) => {
		await users.update(tx, user.id, {
			totpSecret: null,
			totpEnabledAt: null,
			totpLastUsedStep: null
		});
		await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
		await recordAudit(tx, meta, {
			action: 'auth.two_factor_disabled',
			actorUserId: user.id,
			target: { type: 'user', id: user.id }
		});
	});
}

/**
 * The second sign-in step: a TOTP code or an unused recovery code. Success replaces the half-signed-in
 * session with a new one (a privilege change gets a new token).
 */
export async function completeTwoFactorSignIn(
	ctx: ServiceContext,
	principal: Principal,
	code: string,
	meta: RequestMeta
): Promise<{ token: string; expiresAt: Date }> {
	const { user, session } = sessionOnly(principal);
	if (session.twoFactorVerified || !user.totpEnabledAt || !user.totpSecret)
		throw new ServiceError('conflict', 'No second step is pending.');
	await throttle(ctx, [[user.id, twoFactorCodePolicy]]);
	const totpAccepted = await acceptTotpCode(ctx.db, user.id, user.totpSecret, ctx.keys.totp, code);
	// A recovery code is used up in the transaction that signs in with it: used and recorded together.
	const next = await audited(
		ctx.db,
		meta,
		async (tx) => {
			if (!totpAccepted && !(await useRecoveryCode(tx, user.id, code, ctx.now()))) return null;
			await sessions.remove(tx, session.id);
			return createSession(tx, user.id, ctx.now(), {
				twoFactorVerified: true,
				activeWorkspaceId: session.activeWorkspaceId,
				...meta
			});
		},
		(created) =>
			created === null
				? null
				: {
						action: 'auth.sign_in',
						actorUserId: user.id,
						target: { type: 'user', id: user.id },
						details: { secondFactor: totpAccepted ? 'totp' : 'recovery code' }
					}
	);
	if (next === null) {
		await recordAudit(ctx.db, meta, { action: 'auth.two_factor_failed', actorUserId: user.id });
		throw new ServiceError('invalid', 'That code is not correct.', {
			fields: { code: 'Not correct.' }
		});
	}
	return { token: next.token, expiresAt: next.session.expiresAt };
}
