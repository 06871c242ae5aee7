import { fail, type ActionFailure } from '@sveltejs/kit';
import { z } from 'zod';
import { apiScopeNames, createTokenSchema } from '$lib/schemas/tokens';
import {
	formError,
	parseForm,
	requestMeta,
	requirePrincipal,
	type FormFailure
} from '$lib/server/http/forms';
import { createApiToken, listApiTokens, revokeApiToken } from '$lib/server/services/tokens';
import type { Actions, PageServerLoad } from './$types';

const revokeSchema = z.object({ id: z.string({ error: 'Required.' }).min(1).max(64) });

/** The ticked scopes go back into the form too (they are several values, so not in `values`). */
function withScopes(failure: ActionFailure<FormFailure>, scopes: string[]) {
	return fail(failure.status, { ...failure.data, scopes });
}

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	return {
		tokens: await listApiTokens(event.locals.runtime.services, principal),
		scopes: apiScopeNames,
		expiryDays: [7, 30, 90, 365]
	};
};

export const actions: Actions = {
	create: async (event) => {
		const principal = requirePrincipal(event);
		const copy = event.request.clone();
		const parsed = await parseForm(event.request, createTokenSchema, ['name', 'expiresInDays']);
		const ticked = async () =>
			(await copy.formData())
				.getAll('scopes')
				.filter((scope): scope is string => typeof scope === 'string');
		if ('failure' in parsed) return withScopes(parsed.failure, await ticked());
		try {
			const { token, name, scopes, expiresAt } = await createApiToken(
				event.locals.runtime.services,
				principal,
				parsed.data,
				requestMeta(event)
			);
			return { created: { token, name, scopes, expiresAt } };
		} catch (error) {
			return withScopes(formError(error, parsed.values), await ticked());
		}
	},
	revoke: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, revokeSchema);
		if ('failure' in parsed) return parsed.failure;
		try {
			await revokeApiToken(
				event.locals.runtime.services,
				principal,
				parsed.data.id,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error);
		}
		return { revoked: true };
	}
};
