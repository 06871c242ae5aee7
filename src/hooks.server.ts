import type { HandleServerError, ServerInit } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { authenticate } from '$lib/server/hooks/auth';
import { guard } from '$lib/server/hooks/guard';
import { jsonOriginCheck } from '$lib/server/hooks/json-origin';
import { loggedPath, requestLog } from '$lib/server/hooks/request-log';
import { attachRuntime } from '$lib/server/hooks/runtime';
import { securityHeaders } from '$lib/server/hooks/security-headers';
import { loadConfig } from '$lib/server/platform/config';
import {
	currentRuntime,
	registerRuntime,
	registeredRuntime
} from '$lib/server/platform/process-runtime';
import { startRuntime } from '$lib/server/runtime';

export const init: ServerInit = async () => {
	if (registeredRuntime()) return;
	registerRuntime(await startRuntime(loadConfig()));
};

export const handle = sequence(
	requestLog,
	securityHeaders,
	attachRuntime,
	authenticate,
	guard,
	jsonOriginCheck
);

/** Unexpected errors: logged with the request id, shown to the user without internals. */
export const handleError: HandleServerError = ({ error, event, status }) => {
	const requestId = event.locals.requestId;
	if (status !== 404)
		currentRuntime().logger.error(
			{ err: error, requestId, path: loggedPath(event) },
			'unexpected error'
		);
	return { message: status === 404 ? 'Not found' : 'Something went wrong on our side.', requestId };
};
