import { json } from '@sveltejs/kit';
import { updateWorkflowSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { deleteWorkflow, getWorkflow, updateWorkflowMeta } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

/** The workflow, its latest version (definition included) and the published version's number. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await getWorkflow(services, principal, event.params.id, event.params.workflowId))
	);

export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, workflowId } = event.params;
		const patch = await readJson(event.request, updateWorkflowSchema);
		return json(await updateWorkflowMeta(services, principal, id, workflowId, patch));
	});

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, workflowId } = event.params;
		await deleteWorkflow(services, principal, id, workflowId, meta);
		return new Response(null, { status: 204 });
	});
