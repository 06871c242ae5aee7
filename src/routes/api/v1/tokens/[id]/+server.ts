import { api } from '$lib/server/http/api';
import { revokeApiToken } from '$lib/server/services/tokens';
import type { RequestHandler } from './$types';

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		await revokeApiToken(services, principal, event.params.id, meta);
		return new Response(null, { status: 204 });
	});
