import { json } from '@sveltejs/kit';
import { startRunHeadersSchema, startRunSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { startWorkflowRun } from '$lib/server/services/runs';
import type { RequestHandler } from './$types';

/**
 * Starts a run: 201 with the new run; with an `Idempotency-Key` seen before (within 24 hours), 200
 * with that request's run, or 409 when the key came with a different body.
 */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const headers = parseParameters(startRunHeadersSchema, {
			'idempotency-key': event.request.headers.get('idempotency-key') ?? undefined
		});
		const { input, version } = await readJson(event.request, startRunSchema);
		const { run, created } = await startWorkflowRun(
			services,
			principal,
			event.params.id,
			{
				workflowId: event.params.workflowId,
				input,
				version,
				idempotencyKey: headers['idempotency-key']
			},
			meta
		);
		return json({ run }, { status: created ? 201 : 200 });
	});
