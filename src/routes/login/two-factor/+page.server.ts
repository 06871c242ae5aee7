import { redirect } from '@sveltejs/kit';
import { codeSchema } from '$lib/schemas/auth';
import { setSessionCookie } from '$lib/server/auth/session';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import { safeRedirectTarget } from '$lib/server/http/redirect-target';
import { completeTwoFactorSignIn } from '$lib/server/services/two-factor';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	if (principal.kind === 'session' && principal.session.twoFactorVerified) redirect(303, '/app');
	return {};
};

export const actions: Actions = {
	default: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, codeSchema);
		if ('failure' in parsed) return parsed.failure;
		let next;
		try {
			next = await completeTwoFactorSignIn(
				event.locals.runtime.services,
				principal,
				parsed.data.code,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, {}, event.setHeaders);
		}
		setSessionCookie(event, next.token, next.expiresAt);
		redirect(303, safeRedirectTarget(event.url.searchParams.get('redirectTo')));
	}
};
