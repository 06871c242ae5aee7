import { passwordChangeSchema } from '$lib/schemas/auth';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import { changePassword } from '$lib/server/services/accounts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = (event) => {
	requirePrincipal(event);
	return {};
};

export const actions: Actions = {
	change: async (event) => {
		const principal = requirePrincipal(event);
		// Passwords are never echoed back into the form.
		const parsed = await parseForm(event.request, passwordChangeSchema);
		if ('failure' in parsed) return parsed.failure;
		const { currentPassword, newPassword } = parsed.data;
		try {
			await changePassword(
				event.locals.runtime.services,
				principal,
				{ currentPassword, newPassword },
				requestMeta(event)
			);
		} catch (error) {
			return formError(error);
		}
		return { changed: true };
	}
};
