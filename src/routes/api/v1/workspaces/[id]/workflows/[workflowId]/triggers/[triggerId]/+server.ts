import { json } from '@sveltejs/kit';
import { updateTriggerSchema } from '$lib/schemas/triggers';
import { api, readJson } from '$lib/server/http/api';
import { deleteTrigger, getTrigger, updateTrigger } from '$lib/server/services/triggers';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, workflowId, triggerId } = event.params;
		return json(await getTrigger(services, principal, id, workflowId, triggerId));
	});

// Switching a webhook between token and hmac issues a new secret, returned this once as `secret`.
export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const patch = await readJson(event.request, updateTriggerSchema);
		const { id, workflowId, triggerId } = event.params;
		const { trigger, secret } = await updateTrigger(
			services,
			principal,
			id,
			workflowId,
			triggerId,
			patch,
			meta
		);
		return json(secret === null ? trigger : { ...trigger, secret });
	});

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, workflowId, triggerId } = event.params;
		await deleteTrigger(services, principal, id, workflowId, triggerId, meta);
		return new Response(null, { status: 204 });
	});
