import type { Handle, RequestEvent } from '@sveltejs/kit';
import { randomUUID } from 'node:crypto';
import { currentRuntime } from '../runtime-holder.js';

const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;
const quietPaths = new Set(['/healthz', '/readyz']);
// Paths that carry a secret are logged by route, never by value.
const secretRoutes = new Set(['/invite/[token]']);

export function loggedPath(event: RequestEvent): string {
	const route = event.route.id;
	return route !== null && secretRoutes.has(route) ? route : event.url.pathname;
}

/** Gives every request an id (a sane incoming X-Request-Id, else a new one), echoes it and logs the outcome. */
export const requestLog: Handle = async ({ event, resolve }) => {
	const incoming = event.request.headers.get('x-request-id');
	const requestId = incoming !== null && saneRequestId.test(incoming) ? incoming : randomUUID();
	event.locals.requestId = requestId;
	const started = performance.now();
	const logger = currentRuntime().logger;
	try {
		const response = await resolve(event);
		response.headers.set('x-request-id', requestId);
		const level = quietPaths.has(event.url.pathname) ? 'debug' : 'info';
		// The path only: query strings can carry tokens.
		logger[level](
			{
				requestId,
				method: event.request.method,
				path: loggedPath(event),
				status: response.status,
				ms: Math.round(performance.now() - started)
			},
			'request'
		);
		return response;
	} catch (error) {
		logger.error(
			{ requestId, method: event.request.method, path: loggedPath(event), err: error },
			'request failed'
		);
		throw error;
	}
};
