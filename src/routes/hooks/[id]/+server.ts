import { json } from '@sveltejs/kit';
import { requestMeta } from '$lib/server/http/forms';
import { problem, problemFromError } from '$lib/server/http/problem';
import { BodyTooLargeError, drainRefusedBody, readBody } from '$lib/server/http/read-body';
import { WebhookRequestError } from '$lib/server/services/webhook-body';
import { admitWebhook, receiveWebhook, type WebhookHeaders } from '$lib/server/services/webhooks';
import type { RequestHandler } from './$types';

const webhookHeaders = (headers: Headers): WebhookHeaders => ({
	authorization: headers.get('authorization'),
	contentType: headers.get('content-type'),
	timestamp: headers.get('x-awe-timestamp'),
	signature: headers.get('x-awe-signature'),
	idempotencyKey: headers.get('idempotency-key')
});

/**
 * Public: the trigger's token or signature is the credential (see admitWebhook). 202 with the run
 * id, or in respond='result' mode 200 with the run's outcome when it finishes in time. The body is
 * read only once the webhook is known, its token checked and its media type accepted (JSON, form
 * or text: see webhookRunInput).
 */
export const POST: RequestHandler = async (event) => {
	const { services } = event.locals.runtime;
	try {
		const call = webhookHeaders(event.request.headers);
		const meta = requestMeta(event);
		const webhook = await admitWebhook(services, event.params.id, call, meta);
		const delivery = { ...call, body: await readBody(event.request, webhook.config.maxBodyBytes) };
		const { run, created, complete } = await receiveWebhook(services, webhook, delivery, meta);
		const headers: Record<string, string> = created ? {} : { 'idempotent-replayed': 'true' };
		if (!complete) return json({ runId: run.id, status: run.status }, { status: 202, headers });
		const { id: runId, status, output, error } = run;
		return json({ runId, status, output, error }, { headers });
	} catch (error) {
		// After a refused body the connection is not reused: what is left of the body is read only
		// as far as drainRefusedBody goes.
		if (error instanceof BodyTooLargeError) await drainRefusedBody(event.request);
		if (error instanceof BodyTooLargeError || error instanceof WebhookRequestError)
			return problem(error.status, error.type, error.message, {}, { connection: 'close' });
		return problemFromError(error);
	}
};
