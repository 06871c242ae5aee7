import { json } from '@sveltejs/kit';
import { updateProviderSchema } from '$lib/schemas/agents';
import { api, readJson } from '$lib/server/http/api';
import { deleteProvider, getProvider, updateProvider } from '$lib/server/services/providers';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, providerId } = event.params;
		return json(await getProvider(services, principal, id, providerId));
	});

// The kind never changes: a body naming it is refused.
export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const patch = await readJson(event.request, updateProviderSchema);
		const { id, providerId } = event.params;
		return json(await updateProvider(services, principal, id, providerId, patch, meta));
	});

// 409 naming the agents while any use the provider.
export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, providerId } = event.params;
		await deleteProvider(services, principal, id, providerId, meta);
		return new Response(null, { status: 204 });
	});
