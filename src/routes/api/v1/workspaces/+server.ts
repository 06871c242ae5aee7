import { json } from '@sveltejs/kit';
import { workspaceNameSchema } from '$lib/schemas/workspaces';
import { api, readJson } from '$lib/server/http/api';
import { createWorkspace, listMyWorkspaces } from '$lib/server/services/workspaces';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => json(await listMyWorkspaces(services, principal)));

export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, workspaceNameSchema);
		return json(await createWorkspace(services, principal, input, meta), { status: 201 });
	});
