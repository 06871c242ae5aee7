import { json } from '@sveltejs/kit';
import { updateAgentSchema } from '$lib/schemas/agents';
import { api, readJson } from '$lib/server/http/api';
import { deleteAgent, getAgent, updateAgent } from '$lib/server/services/agents';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, agentId } = event.params;
		return json(await getAgent(services, principal, id, agentId));
	});

export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const patch = await readJson(event.request, updateAgentSchema);
		const { id, agentId } = event.params;
		return json(await updateAgent(services, principal, id, agentId, patch, meta));
	});

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, agentId } = event.params;
		await deleteAgent(services, principal, id, agentId, meta);
		return new Response(null, { status: 204 });
	});
