import { redirect } from '@sveltejs/kit';
import { formError, requestMeta } from '$lib/server/http/forms';
import { acceptInvite, describeInvite } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';

// Public (see the guard). The token is a secret: it is only hashed for the lookup, never logged,
// and the page puts it nowhere but the sign-up and sign-in links.
export const load: PageServerLoad = async ({ locals, params, setHeaders }) => {
	setHeaders({ 'cache-control': 'private, no-store' });
	return { invite: await describeInvite(locals.runtime.services, params.token) };
};

export const actions: Actions = {
	accept: async (event) => {
		const principal = event.locals.principal;
		if (principal?.kind !== 'session' || !principal.session.twoFactorVerified) {
			redirect(303, `/login?redirectTo=${encodeURIComponent(event.url.pathname)}`);
		}
		try {
			await acceptInvite(
				event.locals.runtime.services,
				principal,
				event.params.token,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error);
		}
		redirect(303, '/app');
	}
};
