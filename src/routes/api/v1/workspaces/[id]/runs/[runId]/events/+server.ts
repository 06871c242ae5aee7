import { json } from '@sveltejs/kit';
import { runEventsQuerySchema } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { listRunEvents } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** Persisted events with `seq > afterSeq`, oldest first (at most 1,000: ask again from the last). */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, runId } = event.params;
		const { afterSeq } = parseParameters(runEventsQuerySchema, event.url.searchParams);
		return json(await listRunEvents(services, principal, id, runId, afterSeq));
	});
