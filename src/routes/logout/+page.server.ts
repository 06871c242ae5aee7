import { redirect } from '@sveltejs/kit';
import { clearSessionCookie } from '$lib/server/auth/session';
import { requestMeta } from '$lib/server/http/forms';
import { signOut } from '$lib/server/services/accounts';
import type { Actions, PageServerLoad } from './$types';

// Signing out changes state, so it is a POST (a form action); visiting the page just goes home.
export const load: PageServerLoad = () => redirect(303, '/');

export const actions: Actions = {
	default: async (event) => {
		if (event.locals.principal)
			await signOut(event.locals.runtime.services, event.locals.principal, requestMeta(event));
		clearSessionCookie(event);
		redirect(303, '/login');
	}
};
