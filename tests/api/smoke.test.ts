import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { signUpViaForm } from '../helpers/http-client.ts';

const app = useAppServer();

describe('API v1 through the production server', () => {
	it('answers 401 problem+json without credentials', async () => {
		const response = await fetch(`${app.url}/api/v1/me`);
		expect(response.status).toBe(401);
		expect(response.headers.get('content-type')).toBe('application/problem+json');
		expect(await response.json()).toMatchObject({
			type: 'urn:awe:problem:unauthorized',
			status: 401
		});
	});

	it('serves the signed-in user from the session cookie', async () => {
		const { client, response } = await signUpViaForm(app.url, 'first@example.com');
		expect(response.status).toBe(303);
		const me = await client.request('/api/v1/me');
		expect(me.status).toBe(200);
		expect(await me.json()).toMatchObject({
			email: 'first@example.com',
			isInstanceAdmin: true,
			authenticatedWith: 'session'
		});
	});
});
