import { json } from '@sveltejs/kit';
import { updateToolSchema } from '$lib/schemas/tools';
import { api, readJson } from '$lib/server/http/api';
import { deleteTool, getTool, updateTool } from '$lib/server/services/tools';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, toolId } = event.params;
		return json(await getTool(services, principal, id, toolId));
	});

export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const patch = await readJson(event.request, updateToolSchema);
		const { id, toolId } = event.params;
		return json(await updateTool(services, principal, id, toolId, patch, meta));
	});

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, toolId } = event.params;
		await deleteTool(services, principal, id, toolId, meta);
		return new Response(null, { status: 204 });
	});
