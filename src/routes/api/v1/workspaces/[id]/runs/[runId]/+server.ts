import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { getRunDetail } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/**
 * The run, every step it recorded (each with its model usage), the run's model usage (tokens and
 * cost), the number of the version it pinned and the workflow's name.
 */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { run, steps, usage, version, workflowName } = await getRunDetail(
			services,
			principal,
			event.params.id,
			event.params.runId
		);
		return json({ run, steps, usage, version: version?.number ?? null, workflowName });
	});
