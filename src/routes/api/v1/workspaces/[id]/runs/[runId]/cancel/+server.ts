import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { cancelRun } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** 409 when the run has already finished. */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) =>
		json(await cancelRun(services, principal, event.params.id, event.params.runId, meta))
	);
