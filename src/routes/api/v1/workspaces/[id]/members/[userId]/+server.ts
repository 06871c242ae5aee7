import { json } from '@sveltejs/kit';
import { roleChangeSchema } from '$lib/schemas/workspaces';
import { api, readJson } from '$lib/server/http/api';
import { changeMemberRole, removeMember } from '$lib/server/services/workspaces';
import type { RequestHandler } from './$types';

export const PATCH: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const { role } = await readJson(event.request, roleChangeSchema);
		await changeMemberRole(services, principal, event.params.id, event.params.userId, role, meta);
		return json({ userId: event.params.userId, role });
	});

export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		await removeMember(services, principal, event.params.id, event.params.userId, meta);
		return new Response(null, { status: 204 });
	});
