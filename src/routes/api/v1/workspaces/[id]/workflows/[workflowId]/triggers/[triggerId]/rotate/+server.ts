import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { rotateTriggerSecret } from '$lib/server/services/triggers';
import type { RequestHandler } from './$types';

/** A new webhook token or signing secret, shown this once; the old one stops working. */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, workflowId, triggerId } = event.params;
		const { trigger, secret } = await rotateTriggerSecret(
			services,
			principal,
			id,
			workflowId,
			triggerId,
			meta
		);
		return json({ ...trigger, secret });
	});
