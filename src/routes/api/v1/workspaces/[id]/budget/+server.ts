import { json } from '@sveltejs/kit';
import { workspaceBudgetSchema } from '$lib/schemas/agents';
import { api, readJson } from '$lib/server/http/api';
import { getBudget, setBudget } from '$lib/server/services/usage';
import type { RequestHandler } from './$types';

// The limits and this calendar month's (UTC) spend against them.
export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) =>
		json(await getBudget(services, principal, event.params.id))
	);

// Both limits, each a number or null (no limit); owners and admins only.
export const PUT: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const budget = await readJson(event.request, workspaceBudgetSchema);
		return json(await setBudget(services, principal, event.params.id, budget, meta));
	});
