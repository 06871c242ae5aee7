import { json } from '@sveltejs/kit';
import { workspaceNameSchema } from '$lib/schemas/workspaces';
import { api, readJson } from '$lib/server/http/api';
import { getWorkspace, renameWorkspace } from '$lib/server/services/workspaces';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await getWorkspace(services, principal, event.params.id))
	);

export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, workspaceNameSchema);
		return json(await renameWorkspace(services, principal, event.params.id, input, meta));
	});
