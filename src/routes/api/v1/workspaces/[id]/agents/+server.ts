import { json } from '@sveltejs/kit';
import { createAgentSchema } from '$lib/schemas/agents';
import { api, readJson } from '$lib/server/http/api';
import { createAgent, listAgents } from '$lib/server/services/agents';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listAgents(services, principal, event.params.id))
	);

// The provider, custom tools, workflows and credentials it names must be this workspace's.
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, createAgentSchema);
		const agent = await createAgent(services, principal, event.params.id, input, meta);
		return json(agent, { status: 201 });
	});
