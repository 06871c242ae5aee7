import { json } from '@sveltejs/kit';
import { createCredentialSchema } from '$lib/schemas/credentials';
import { api, readJson } from '$lib/server/http/api';
import { createCredential, listCredentials } from '$lib/server/services/credentials';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listCredentials(services, principal, event.params.id))
	);

// The secret goes in and never comes back out: the answer has only the settings and a hint.
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, createCredentialSchema);
		const credential = await createCredential(services, principal, event.params.id, input, meta);
		return json(credential, { status: 201 });
	});
