import { json, text, type Handle } from '@sveltejs/kit';

// What a <form> on another site (or a fetch that needs no preflight) can send, and Kit's own
// binary form encoding: the content types SvelteKit's CSRF check covers.
const formContentTypes = new Set([
	'application/x-www-form-urlencoded',
	'multipart/form-data',
	'text/plain',
	'application/x-sveltekit-formdata'
]);
const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Webhooks: called by other servers, authenticated by a token or signature, never a cookie. */
const isWebhookRoute = (routeId: string | null) => routeId?.startsWith('/hooks/') ?? false;

/**
 * SvelteKit's CSRF check (`kit.csrf`, turned off in svelte.config.js because it cannot exempt a
 * route), with the same answer: a form-encoded write whose Origin is not ours is refused with 403,
 * everywhere but the webhook routes.
 */
export const formOriginCheck: Handle = ({ event, resolve }) => {
	const { request } = event;
	const type = request.headers.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
	const crossSiteForm =
		writeMethods.has(request.method) &&
		formContentTypes.has(type) &&
		request.headers.get('origin') !== event.url.origin;
	if (!crossSiteForm || isWebhookRoute(event.route.id)) return resolve(event);
	const message = `Cross-site ${request.method} form submissions are forbidden`;
	if (request.headers.get('accept') === 'application/json')
		return json({ message }, { status: 403 });
	return text(message, { status: 403 });
};
