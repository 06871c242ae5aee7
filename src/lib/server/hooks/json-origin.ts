import type { Handle } from '@sveltejs/kit';
import { problem } from '../http/problem.ts';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The cross-site form check (form-origin.ts) covers form posts only. A cookie-authenticated
 * write to the JSON API must also come from our own pages: same Origin, or (when a browser sends
 * no Origin) Sec-Fetch-Site same-origin. Token-authenticated calls carry no ambient credentials
 * and need no such check.
 */
export const jsonOriginCheck: Handle = async ({ event, resolve }) => {
	const principal = event.locals.principal;
	if (
		principal?.kind !== 'session' ||
		safeMethods.has(event.request.method) ||
		!event.url.pathname.startsWith('/api/')
	) {
		return resolve(event);
	}
	const origin = event.request.headers.get('origin');
	const fetchSite = event.request.headers.get('sec-fetch-site');
	const sameOrigin = origin !== null ? origin === event.url.origin : fetchSite === 'same-origin';
	if (!sameOrigin)
		return problem(403, 'cross-origin', 'Cross-origin requests cannot use the session cookie.');
	return resolve(event);
};
