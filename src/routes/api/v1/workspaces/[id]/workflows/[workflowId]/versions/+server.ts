import { json } from '@sveltejs/kit';
import { saveVersionSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { listVersions, saveVersion } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await listVersions(services, principal, event.params.id, event.params.workflowId))
	);

/** An invalid definition answers 400 with `problems`, each with its node id and JSON path. */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, workflowId } = event.params;
		const input = await readJson(event.request, saveVersionSchema);
		const version = await saveVersion(services, principal, id, workflowId, input, meta);
		return json(version, { status: 201 });
	});
