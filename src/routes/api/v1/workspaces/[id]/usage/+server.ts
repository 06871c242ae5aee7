import { json } from '@sveltejs/kit';
import { usageQuerySchema } from '$lib/schemas/usage';
import { api } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { getUsage } from '$lib/server/services/usage';
import type { RequestHandler } from './$types';

// ?from&to (to exclusive; this calendar month by default) &groupBy=workflow|model|day.
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const query = parseParameters(usageQuerySchema, event.url.searchParams);
		return json(await getUsage(services, principal, event.params.id, query));
	});
