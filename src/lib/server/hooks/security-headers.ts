import type { Handle } from '@sveltejs/kit';

const baseHeaders: Record<string, string> = {
	'x-content-type-options': 'nosniff',
	'x-frame-options': 'DENY',
	'referrer-policy': 'strict-origin-when-cross-origin',
	'cross-origin-opener-policy': 'same-origin',
	'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()'
};

/** Standard hardening headers; pages get their nonce-based CSP from kit.csp (svelte.config.js). */
export const securityHeaders: Handle = async ({ event, resolve }) => {
	const response = await resolve(event);
	for (const [name, value] of Object.entries(baseHeaders)) response.headers.set(name, value);
	if (!response.headers.has('content-security-policy')) {
		// Non-page responses (JSON, files) never need to run or embed anything.
		response.headers.set('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
	}
	if (event.url.protocol === 'https:') {
		response.headers.set('strict-transport-security', 'max-age=63072000; includeSubDomains');
	}
	return response;
};
