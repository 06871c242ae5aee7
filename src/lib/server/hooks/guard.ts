import { redirect, type Handle } from '@sveltejs/kit';
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
		redirect(303, `/login?redirectTo=${encodeURIComponent(event.url.pathname + event.url.search)}`);
	}
	if (principal.kind === 'session' && routeId !== null) {
		if (!principal.session.twoFactorVerified && !secondStepRoutes.has(routeId)) {
			if (isApi) return problem(401, 'unauthorized', 'Finish signing in with your second factor.');
			redirect(303, '/login/two-factor');
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
			redirect(303, '/settings/two-factor?required=1');
		}
	}
	return resolve(event);
};
