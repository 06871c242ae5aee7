import type { RequestEvent } from '@sveltejs/kit';
import { describe, expect, it } from 'vitest';
import { formOriginCheck } from './form-origin.ts';

const site = 'https://awe.test';

/** The answer formOriginCheck gives, `passed` when it hands the request on. */
async function check(
	method: string,
	headers: Record<string, string>,
	routeId: string | null = '/login'
): Promise<Response> {
	const url = `${site}/somewhere`;
	const event = {
		request: new Request(url, { method, headers }),
		url: new URL(url),
		route: { id: routeId }
	} as RequestEvent;
	return formOriginCheck({ event, resolve: async () => new Response('passed') });
}

// Every content type SvelteKit's own check treats as a form, in spellings a sender may use.
const formTypes = [
	'application/x-www-form-urlencoded',
	'multipart/form-data; boundary=x',
	'text/plain',
	'application/x-sveltekit-formdata',
	'TEXT/PLAIN;charset=UTF-8',
	' Application/X-WWW-Form-Urlencoded '
];

describe('formOriginCheck', () => {
	it.each(formTypes)('refuses a cross-site %s write, with every write method', async (type) => {
		for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
			const response = await check(method, { 'content-type': type, origin: 'https://evil.test' });
			expect(response.status).toBe(403);
			expect(await response.text()).toBe(`Cross-site ${method} form submissions are forbidden`);
		}
	});

	it('refuses a form write without an Origin header, or from an opaque one', async () => {
		for (const headers of [{}, { origin: 'null' }] as Record<string, string>[]) {
			const response = await check('POST', { 'content-type': 'text/plain', ...headers });
			expect(response.status).toBe(403);
		}
	});

	it('answers in JSON when asked, as SvelteKit does', async () => {
		const response = await check('POST', {
			'content-type': 'text/plain',
			origin: 'https://evil.test',
			accept: 'application/json'
		});
		expect(response.status).toBe(403);
		expect(response.headers.get('content-type')).toMatch(/^application\/json/);
		expect(await response.json()).toEqual({
			message: 'Cross-site POST form submissions are forbidden'
		});
	});

	it('passes same-origin forms, reads and other content types', async () => {
		const passing: [string, Record<string, string>][] = [
			['POST', { 'content-type': 'application/x-www-form-urlencoded', origin: site }],
			['GET', { 'content-type': 'text/plain', origin: 'https://evil.test' }],
			['POST', { 'content-type': 'application/json', origin: 'https://evil.test' }]
		];
		for (const [method, headers] of passing) {
			expect(await (await check(method, headers)).text()).toBe('passed');
		}
	});

	it('exempts the webhook routes only: API routes and paths no route matches are checked', async () => {
		for (const routeId of ['/api/v1/workspaces', '/logout', null]) {
			const response = await check('POST', { 'content-type': 'text/plain' }, routeId);
			expect(response.status).toBe(403);
		}
	});

	it.each(formTypes)('lets a cross-site %s post reach a webhook', async (type) => {
		const response = await check(
			'POST',
			{ 'content-type': type, origin: 'https://evil.test' },
			'/hooks/[id]'
		);
		expect(await response.text()).toBe('passed');
	});
});
