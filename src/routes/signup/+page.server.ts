import { redirect } from '@sveltejs/kit';
import { signUpSchema } from '$lib/schemas/auth';
import { setSessionCookie } from '$lib/server/auth/session';
import { formError, parseForm, requestMeta } from '$lib/server/http/forms';
import { signUp } from '$lib/server/services/accounts';
import { signupState } from '$lib/server/services/instance';
import { describeInvite } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url }) => {
	if (locals.principal) redirect(303, '/app');
	const services = locals.runtime.services;
	const inviteToken = url.searchParams.get('invite');
	const invite = inviteToken ? await describeInvite(services, inviteToken) : null;
	return { ...(await signupState(services)), inviteToken, invite };
};

export const actions: Actions = {
	default: async (event) => {
		const parsed = await parseForm(event.request, signUpSchema, ['name', 'email']);
		if ('failure' in parsed) return parsed.failure;
		const { data, values } = parsed;
		let result;
		try {
			result = await signUp(
				event.locals.runtime.services,
				{ ...data, inviteToken: data.invite || null },
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, values, event.setHeaders);
		}
		if (result.status === 'pending') return { pending: true };
		setSessionCookie(event, result.token, result.session.expiresAt);
		redirect(303, '/app');
	}
};
