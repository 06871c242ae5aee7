import type { Cookies } from '@sveltejs/kit';
import type { Db } from '../db/index.ts';
import type { Session, User } from '../db/schema/index.ts';
import * as sessions from '../db/sessions.ts';
import { randomToken, sha256Hex } from '../platform/crypto.ts';

const hour = 60 * 60 * 1000;
const day = 24 * hour;

/** Idle expiry slides with use; absolute expiry never moves. Renewal writes at most once an hour. */
export const sessionLifetime = {
	idleMs: 7 * day,
	absoluteMs: 30 * day,
	renewAfterMs: hour
} as const;

/** Lucia's recipe: the cookie holds a random token (160 bits), the database only its SHA-256. */
export function sessionIdOf(token: string): string {
	return sha256Hex(token);
}

export async function createSession(
	db: Db,
	userId: string,
	now: Date,
	options: {
		twoFactorVerified: boolean;
		activeWorkspaceId?: string | null;
		ip: string | null;
		userAgent: string | null;
	}
): Promise<{ token: string; session: Session }> {
	const token = randomToken(20);
	const session = await sessions.create(db, {
		id: sessionIdOf(token),
		userId,
		createdAt: now,
		lastSeenAt: now,
		expiresAt: new Date(now.getTime() + sessionLifetime.idleMs),
		twoFactorVerified: options.twoFactorVerified,
		activeWorkspaceId: options.activeWorkspaceId ?? null,
		ip: options.ip,
		userAgent: options.userAgent?.slice(0, 512) ?? null
	});
	return { token, session };
}

export type ValidSession = { session: Session; user: User; renewed: boolean };

/** The live session for a cookie token, renewing its idle expiry; null when unknown, expired or the user is not active. */
export async function validateSessionToken(
	db: Db,
	token: string,
	now: Date
): Promise<ValidSession | null> {
	if (!/^[a-z2-7]{32}$/.test(token)) return null;
	return validateSession(db, sessionIdOf(token), now);
}

/**
 * The live session with this id, renewing its idle expiry unless `renew` is false; null when
 * unknown, expired or the user is not active.
 */
export async function validateSession(
	db: Db,
	id: string,
	now: Date,
	{ renew = true } = {}
): Promise<ValidSession | null> {
	const found = await sessions.getWithUser(db, id);
	if (found === null) return null;
	const { session, user } = found;
	const absoluteEnd = session.createdAt.getTime() + sessionLifetime.absoluteMs;
	if (now.getTime() >= session.expiresAt.getTime() || now.getTime() >= absoluteEnd) {
		await sessions.remove(db, session.id);
		return null;
	}
	if (user.status !== 'active') return null;
	if (!renew || now.getTime() - session.lastSeenAt.getTime() < sessionLifetime.renewAfterMs) {
		return { session, user, renewed: false };
	}
	const renewed = {
		...session,
		lastSeenAt: now,
		expiresAt: new Date(Math.min(now.getTime() + sessionLifetime.idleMs, absoluteEnd))
	};
	await sessions.update(db, session.id, {
		lastSeenAt: renewed.lastSeenAt,
		expiresAt: renewed.expiresAt
	});
	return { session: renewed, user, renewed: true };
}

/** `__Host-` (https only) pins the cookie to this origin: no Domain, Path=/, Secure. */
export function sessionCookieName(secure: boolean): string {
	return secure ? '__Host-awe_session' : 'awe_session';
}

type SessionCookieEvent = { cookies: Pick<Cookies, 'get' | 'set' | 'delete'>; url: URL };

const isSecure = (url: URL) => url.protocol === 'https:';

export function readSessionCookie({ cookies, url }: SessionCookieEvent): string | undefined {
	return cookies.get(sessionCookieName(isSecure(url)));
}

export function setSessionCookie(
	{ cookies, url }: SessionCookieEvent,
	token: string,
	expires: Date
) {
	const secure = isSecure(url);
	cookies.set(sessionCookieName(secure), token, {
		path: '/',
		httpOnly: true,
		sameSite: 'lax',
		secure,
		expires
	});
}

export function clearSessionCookie({ cookies, url }: SessionCookieEvent) {
	const secure = isSecure(url);
	cookies.delete(sessionCookieName(secure), { path: '/', secure });
}

/** A Set-Cookie header clearing the cookie, for responses a hook builds itself (`event.cookies` is not applied there). */
export function clearedSessionCookieHeader(url: URL): string {
	const secure = isSecure(url);
	const attributes = [
		'Path=/',
		'Expires=Thu, 01 Jan 1970 00:00:00 GMT',
		'Max-Age=0',
		'HttpOnly',
		'SameSite=Lax'
	];
	if (secure) attributes.push('Secure');
	return [`${sessionCookieName(secure)}=`, ...attributes].join('; ');
}
