import { json } from '@sveltejs/kit';
import { inviteSchema } from '$lib/schemas/workspaces';
import { api, readJson } from '$lib/server/http/api';
import { createInvite, listInvites } from '$lib/server/services/workspaces';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listInvites(services, principal, event.params.id))
	);

export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, inviteSchema);
		const invite = await createInvite(services, principal, event.params.id, input, meta);
		const { token, ...rest } = invite;
		return json({ ...rest, url: `${event.url.origin}/invite/${token}` }, { status: 201 });
	});
