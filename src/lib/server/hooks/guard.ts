import { json, type Handle, type RequestEvent } from '@sveltejs/kit';
import { clearedSessionCookieHeader } from '../auth/session.ts';
import { problem } from '../http/problem.ts';
import { requiresTwoFactor } from '../services/instance.ts';

/** The only routes anyone may reach without signing in. Everything else is private. */
export const publicRoutes = new Set([
	'/',
	'/login',
	'/signup',
	'/healthz',
	'/readyz',
	'/invite/[token]'
]);
const publicPrefixes = ['/hooks/'];

// Reachable in the middle of a two-factor sign-in or a forced enrolment.
const secondStepRoutes = new Set(['/login/two-factor', '/logout']);
const enrolmentRoutes = new Set(['/settings/two-factor', '/logout']);

export function isPublicRoute(routeId: string | null): boolean {
	// No route: Kit answers 404 (or serves a static file) without running any of our code.
	return (
		routeId === null ||
		publicRoutes.has(routeId) ||
		publicPrefixes.some((prefix) => routeId.startsWith(prefix))
	);
}

/**
 * A redirect returned (not thrown) from a handle, so the outer handles still add the request id
 * and security headers. Client-side navigations and enhanced forms expect Kit's JSON form of it.
 */
function redirectTo(event: RequestEvent, location: string): Response {
	let response: Response;
	if (event.isDataRequest) response = json({ type: 'redirect', location });
	else if (event.request.headers.get('x-sveltekit-action') === 'true') {
		response = json({ type: 'redirect', status: 303, location });
	} else response = new Response(null, { status: 303, headers: { location } });
	if (event.locals.staleSessionCookie) {
		response.headers.append('set-cookie', clearedSessionCookieHeader(event.url));
	}
	return response;
}

export const guard: Handle = async ({ event, resolve }) => {
	const routeId = event.route.id;
	const principal = event.locals.principal;
	const isApi = event.url.pathname.startsWith('/api/');
	if (isPublicRoute(routeId)) return resolve(event);
	if (principal === null) {
		if (isApi) {
			const title = event.locals.bearerRejected
				? 'The token is invalid, expired or revoked.'
				: 'Sign in or send an API token.';
			return problem(401, 'unauthorized', title, {}, { 'www-authenticate': 'Bearer' });
		}
		return redirectTo(
			event,
			`/login?redirectTo=${encodeURIComponent(event.url.pathname + event.url.search)}`
		);
	}
	if (principal.kind === 'session' && routeId !== null) {
		if (!principal.session.twoFactorVerified && !secondStepRoutes.has(routeId)) {
			if (isApi) return problem(401, 'unauthorized', 'Finish signing in with your second factor.');
			return redirectTo(event, '/login/two-factor');
		}
		if (
			principal.session.twoFactorVerified &&
			principal.user.totpEnabledAt === null &&
			!enrolmentRoutes.has(routeId) &&
			(await requiresTwoFactor(event.locals.runtime.services))
		) {
			if (isApi)
				return problem(
					403,
					'forbidden',
					'This instance requires two-factor sign-in; set it up first.'
				);
			return redirectTo(event, '/settings/two-factor?required=1');
		}
	}
	return resolve(event);
};
