import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { listMembers } from '$lib/server/services/workspaces';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listMembers(services, principal, event.params.id))
	);
