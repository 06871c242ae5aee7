import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { rerun } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** A new run of a failed or cancelled one that reuses every step that succeeded (`rerunOf` names it). */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, runId } = event.params;
		const run = await rerun(services, principal, id, runId, { fromNodeId: null }, meta);
		return json(run, { status: 201 });
	});
