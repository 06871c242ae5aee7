import { json } from '@sveltejs/kit';
import { api } from '$lib/server/http/api';
import { listApiTokens } from '$lib/server/services/tokens';
import type { RequestHandler } from './$types';

// Tokens are created in the browser only (a token must not be able to mint tokens).
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => json(await listApiTokens(services, principal)));
