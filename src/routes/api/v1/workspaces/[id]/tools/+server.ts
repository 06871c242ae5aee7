import { json } from '@sveltejs/kit';
import { createToolSchema } from '$lib/schemas/tools';
import { api, readJson } from '$lib/server/http/api';
import { createTool, listWorkspaceTools } from '$lib/server/services/tools';
import type { RequestHandler } from './$types';

// The built-in tools first (`builtIn: true`), then the workspace's own, which have an id.
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listWorkspaceTools(services, principal, event.params.id))
	);

export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, createToolSchema);
		const tool = await createTool(services, principal, event.params.id, input, meta);
		return json(tool, { status: 201 });
	});
