import { json } from '@sveltejs/kit';
import { updateCredentialSchema } from '$lib/schemas/credentials';
import { api, readJson } from '$lib/server/http/api';
import {
	deleteCredential,
	getCredential,
	updateCredential
} from '$lib/server/services/credentials';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, credentialId } = event.params;
		return json(await getCredential(services, principal, id, credentialId));
	});

// Secret fields are write-only: absent or empty keeps the stored secret.
export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const patch = await readJson(event.request, updateCredentialSchema);
		const { id, credentialId } = event.params;
		return json(await updateCredential(services, principal, id, credentialId, patch, meta));
	});

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, credentialId } = event.params;
		await deleteCredential(services, principal, id, credentialId, meta);
		return new Response(null, { status: 204 });
	});
