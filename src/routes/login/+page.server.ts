import { redirect } from '@sveltejs/kit';
import { signInSchema } from '$lib/schemas/auth';
import { setSessionCookie } from '$lib/server/auth/session';
import { formError, parseForm, requestMeta } from '$lib/server/http/forms';
import { safeRedirectTarget } from '$lib/server/http/redirect-target';
import { signIn } from '$lib/server/services/accounts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url }) => {
	if (locals.principal?.kind === 'session' && locals.principal.session.twoFactorVerified) {
		redirect(303, safeRedirectTarget(url.searchParams.get('redirectTo')));
	}
	return {};
};

export const actions: Actions = {
	default: async (event) => {
		const parsed = await parseForm(event.request, signInSchema, ['email']);
		if ('failure' in parsed) return parsed.failure;
		let result;
		try {
			result = await signIn(event.locals.runtime.services, parsed.data, requestMeta(event));
		} catch (error) {
			return formError(error, parsed.values, event.setHeaders);
		}
		// A new session at every sign-in (never an upgraded old one): no session fixation.
		setSessionCookie(event, result.token, result.session.expiresAt);
		const next = safeRedirectTarget(event.url.searchParams.get('redirectTo'));
		redirect(
			303,
			result.twoFactorRequired ? `/login/two-factor?redirectTo=${encodeURIComponent(next)}` : next
		);
	}
};
