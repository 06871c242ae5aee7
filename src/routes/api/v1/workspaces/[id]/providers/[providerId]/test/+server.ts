import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { testProvider } from '$lib/server/services/providers';
import type { RequestHandler } from './$types';

/**
 * Calls the provider's model list with its stored key: `{ ok: true, models, modelListed }`, or
 * `{ ok: false, code, message }` when the provider cannot be reached or refuses the key.
 */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, providerId } = event.params;
		return json(await testProvider(services, principal, id, providerId));
	});
