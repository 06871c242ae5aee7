import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal }) => {
		const { id, email, name, isInstanceAdmin } = principal.user;
		const scopes =
			principal.kind === 'token' ? principal.scopes : ['read', 'write', 'run', 'admin'];
		return json({ id, email, name, isInstanceAdmin, authenticatedWith: principal.kind, scopes });
	});
