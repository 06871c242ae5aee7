import { json } from '@sveltejs/kit';
import { requestMeta } from '$lib/server/http/forms';
import { problem, problemFromError } from '$lib/server/http/problem';
import { WebhookRequestError, receiveWebhook } from '$lib/server/services/triggers';
import type { RequestHandler } from './$types';

/**
 * Public: the trigger's token or signature is the credential (see receiveWebhook). 202 with the run
 * id, or in respond='result' mode 200 with the run's outcome when it finishes in time.
 */
export const POST: RequestHandler = async (event) => {
	const { services } = event.locals.runtime;
	try {
		const { request, params } = event;
		const { run, created, complete } = await receiveWebhook(
			services,
			params.id,
			request,
			requestMeta(event)
		);
		const headers: Record<string, string> = created ? {} : { 'idempotent-replayed': 'true' };
		if (!complete) return json({ runId: run.id, status: run.status }, { status: 202, headers });
		const { id: runId, status, output, error } = run;
		return json({ runId, status, output, error }, { headers });
	} catch (error) {
		// After a refused body the connection is not reused: the rest of the body is never read.
		if (error instanceof WebhookRequestError)
			return problem(error.status, error.type, error.message, {}, { connection: 'close' });
		return problemFromError(error);
	}
};
