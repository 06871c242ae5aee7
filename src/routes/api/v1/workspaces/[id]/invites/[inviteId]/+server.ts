import { api } from '$lib/server/http/api';
import { revokeInvite } from '$lib/server/services/workspaces';
import type { RequestHandler } from './$types';

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		await revokeInvite(services, principal, event.params.id, event.params.inviteId, meta);
		return new Response(null, { status: 204 });
	});
