import { json } from '@sveltejs/kit';
import { createWorkflowSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { createWorkflow, listWorkflows } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listWorkflows(services, principal, event.params.id))
	);

export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, createWorkflowSchema);
		const workflow = await createWorkflow(services, principal, event.params.id, input, meta);
		return json(workflow, { status: 201 });
	});
