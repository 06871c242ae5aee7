import type { Handle } from '@sveltejs/kit';
import {
	clearSessionCookie,
	readSessionCookie,
	setSessionCookie,
	validateSessionToken
} from '../auth/session.ts';
import { authenticateApiToken } from '../services/tokens.ts';

/**
 * Sets `locals.principal` (null when anonymous): a bearer token on /api routes, otherwise the session
 * cookie, whose idle expiry slides with use.
 */
export const authenticate: Handle = async ({ event, resolve }) => {
	const { services } = event.locals.runtime;
	event.locals.principal = null;
	const authorization = event.request.headers.get('authorization');
	if (authorization !== null && event.url.pathname.startsWith('/api/')) {
		const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
		event.locals.principal = bearer ? await authenticateApiToken(services, bearer) : null;
		event.locals.bearerRejected = event.locals.principal === null;
		return resolve(event);
	}
	const token = readSessionCookie(event);
	if (token === undefined) return resolve(event);
	const valid = await validateSessionToken(services.db, token, services.now());
	if (valid === null) {
		clearSessionCookie(event);
		// The guard's own redirects do not carry event.cookies changes; it clears the cookie itself.
		event.locals.staleSessionCookie = true;
		return resolve(event);
	}
	if (valid.renewed) setSessionCookie(event, token, valid.session.expiresAt);
	event.locals.principal = { kind: 'session', user: valid.user, session: valid.session };
	return resolve(event);
};
