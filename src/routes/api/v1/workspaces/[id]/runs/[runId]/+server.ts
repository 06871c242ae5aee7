import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { getRunDetail } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** The run, every step it recorded, the number of the version it pinned and the workflow's name. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { run, steps, version, workflowName } = await getRunDetail(
			services,
			principal,
			event.params.id,
			event.params.runId
		);
		return json({ run, steps, version: version?.number ?? null, workflowName });
	});
