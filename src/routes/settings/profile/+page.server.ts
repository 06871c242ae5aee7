import { profileSchema } from '$lib/schemas/auth';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import { updateProfile } from '$lib/server/services/accounts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = (event) => {
	const { user } = requirePrincipal(event);
	return { profile: { name: user.name, email: user.email } };
};

export const actions: Actions = {
	save: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, profileSchema, ['name', 'email']);
		if ('failure' in parsed) return parsed.failure;
		try {
			await updateProfile(
				event.locals.runtime.services,
				principal,
				parsed.data,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		return { saved: true };
	}
};
