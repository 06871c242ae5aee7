import { json } from '@sveltejs/kit';
import { versionNumberParam } from '$lib/schemas/engine-api';
import { api } from '$lib/server/http/api';
import { notFound } from '$lib/server/errors';
import { publishVersion } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

/** Runs start on this version from now on (unless they name another). */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, workflowId } = event.params;
		const number = versionNumberParam(event.params.number);
		if (number === null) throw notFound('Version not found.');
		return json(await publishVersion(services, principal, id, workflowId, number, meta));
	});
