import type { HandleServerError, ServerInit } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { authenticate } from '$lib/server/hooks/auth';
import { formOriginCheck } from '$lib/server/hooks/form-origin';
import { guard } from '$lib/server/hooks/guard';
import { jsonOriginCheck } from '$lib/server/hooks/json-origin';
import { loggedPath, requestLog } from '$lib/server/hooks/request-log';
import { attachRuntime } from '$lib/server/hooks/runtime';
import { securityHeaders } from '$lib/server/hooks/security-headers';
import { loadConfig } from '$lib/server/platform/config';
import { createRuntime, webRoles } from '$lib/server/runtime';
import { currentRuntime, heldRuntime, holdRuntime } from '$lib/server/runtime-holder';

// The web process's runtime is built here, inside the bundle, so that its services are the ones
// the routes import; server.js and the Vite plugin reach it through the runtime holder.
export const init: ServerInit = async () => {
	if (heldRuntime()) return;
	const config = loadConfig();
	holdRuntime(await createRuntime(config, { roles: webRoles(config) }));
};

export const handle = sequence(
	requestLog,
	securityHeaders,
	formOriginCheck,
	attachRuntime,
	authenticate,
	guard,
	jsonOriginCheck
);

/**
 * Errors SvelteKit did not expect a route to handle. A 4xx is the request's fault (no such page,
 * a form posted as JSON): answered with what was wrong and not logged. A 5xx is ours: logged with
 * the request id, shown without internals.
 */
export const handleError: HandleServerError = ({ error, event, status }) => {
	const requestId = event.locals.requestId;
	if (status >= 500) {
		currentRuntime().logger.error(
			{ err: error, requestId, path: loggedPath(event) },
			'unexpected error'
		);
		return { message: 'Something went wrong on our side.', requestId };
	}
	return { message: clientErrorMessage(status, error, event.request), requestId };
};

function clientErrorMessage(status: number, error: unknown, request: Request): string {
	if (status === 404) return 'Not found';
	if (status === 415) {
		const type = request.headers.get('content-type');
		return `Forms are sent as application/x-www-form-urlencoded or multipart/form-data, not ${type ? type.split(';')[0] : 'without a content type'}.`;
	}
	return error instanceof Error ? error.message : 'The request cannot be served.';
}
