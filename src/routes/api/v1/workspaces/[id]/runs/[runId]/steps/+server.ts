import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { getRunDetail } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { steps } = await getRunDetail(services, principal, event.params.id, event.params.runId);
		return json(steps);
	});
