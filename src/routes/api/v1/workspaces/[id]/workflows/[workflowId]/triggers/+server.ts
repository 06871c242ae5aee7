import { json } from '@sveltejs/kit';
import { createTriggerSchema } from '$lib/schemas/triggers';
import { api, readJson } from '$lib/server/http/api';
import { createTrigger, listTriggers } from '$lib/server/services/triggers';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listTriggers(services, principal, event.params.id, event.params.workflowId))
	);

// The response carries the webhook's token or signing secret: the only time it is ever shown.
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, createTriggerSchema);
		const { id, workflowId } = event.params;
		const { trigger, secret } = await createTrigger(
			services,
			principal,
			id,
			workflowId,
			input,
			meta
		);
		return json({ ...trigger, secret }, { status: 201 });
	});
