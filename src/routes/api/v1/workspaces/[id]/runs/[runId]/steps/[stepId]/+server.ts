import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { getRunStep } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, runId, stepId } = event.params;
		return json(await getRunStep(services, principal, id, runId, stepId));
	});
