import { json } from '@sveltejs/kit';
import { listRunsQuerySchema } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { listRuns } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** Newest first: `?workflowId=&status=failed,cancelled&trigger=&limit=`; `before=<next>` pages on. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const filter = parseParameters(listRunsQuerySchema, event.url.searchParams);
		return json(await listRuns(services, principal, event.params.id, filter));
	});
