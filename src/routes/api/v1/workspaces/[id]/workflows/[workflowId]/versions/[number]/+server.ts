import { json } from '@sveltejs/kit';
import { versionNumberParam } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { isUuid } from '$lib/server/ids';
import { notFound } from '$lib/server/errors';
import { getVersion } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { id, workflowId } = event.params;
		const number = versionNumberParam(event.params.number);
		// Ids and numbers no version can have never reach the uuid and integer columns.
		if (number === null || !isUuid(workflowId)) throw notFound('Version not found.');
		return json(await getVersion(services, principal, id, workflowId, number));
	});
