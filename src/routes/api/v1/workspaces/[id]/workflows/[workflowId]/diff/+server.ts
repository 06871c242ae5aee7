import { json } from '@sveltejs/kit';
import { diffQuerySchema } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { isUuid } from '$lib/server/ids';
import { notFound } from '$lib/server/errors';
import { diffVersions } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

/** `?from=1&to=2`: a unified diff of the two definitions, `identical` when there is none. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, workflowId } = event.params;
		const { from, to } = parseParameters(diffQuerySchema, event.url.searchParams);
		if (!isUuid(workflowId)) throw notFound('Version not found.');
		return json(await diffVersions(services, principal, id, workflowId, from, to));
	});
