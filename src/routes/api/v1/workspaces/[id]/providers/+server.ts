import { json } from '@sveltejs/kit';
import { createProviderSchema } from '$lib/schemas/agents';
import { api, readJson } from '$lib/server/http/api';
import { createProvider, listProviders } from '$lib/server/services/providers';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listProviders(services, principal, event.params.id))
	);

// The API key is a credential of the workspace, named by id: the provider never holds a secret.
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, createProviderSchema);
		const provider = await createProvider(services, principal, event.params.id, input, meta);
		return json(provider, { status: 201 });
	});
