import { redirect } from '@sveltejs/kit';
import { z } from 'zod';
import { clearSessionCookie } from '$lib/server/auth/session';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import { listMySessions, revokeMySession } from '$lib/server/services/accounts';
import type { Actions, PageServerLoad } from './$types';

const revokeSchema = z.object({ sessionId: z.string({ error: 'Required.' }).min(1).max(128) });

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	return { sessions: await listMySessions(event.locals.runtime.services, principal) };
};

export const actions: Actions = {
	revoke: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, revokeSchema);
		if ('failure' in parsed) return parsed.failure;
		const { sessionId } = parsed.data;
		try {
			await revokeMySession(
				event.locals.runtime.services,
				principal,
				sessionId,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error);
		}
		if (principal.kind === 'session' && principal.session.id === sessionId) {
			// This browser's own session is gone: forget the cookie and sign in again.
			clearSessionCookie(event);
			redirect(303, '/login');
		}
		return { revoked: true };
	}
};
