import { json } from '@sveltejs/kit';
import { listApprovalsQuerySchema } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { listApprovals } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** Newest first; `?status=pending` for those waiting on someone, every status when absent. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { status } = parseParameters(listApprovalsQuerySchema, event.url.searchParams);
		return json(await listApprovals(services, principal, event.params.id, status ?? null));
	});
