import { json } from '@sveltejs/kit';
import { rerunSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { rerun } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/** A new run from one step on, reusing what is upstream of it; `input` replaces that step's input. */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { id, runId } = event.params;
		const request = await readJson(event.request, rerunSchema);
		const run = await rerun(services, principal, id, runId, request, meta);
		return json(run, { status: 201 });
	});
