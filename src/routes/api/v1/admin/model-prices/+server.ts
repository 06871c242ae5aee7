import { json } from '@sveltejs/kit';
import { modelPriceSchema } from '$lib/schemas/agents';
import { modelPriceKeySchema } from '$lib/schemas/usage';
import { api, readJson } from '$lib/server/http/api';
import { parseParameters } from '$lib/server/http/problem';
import { deleteModelPrice, listModelPrices, setModelPrice } from '$lib/server/services/prices';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => json(await listModelPrices(services, principal)));

// Sets one model's price, adding it when the table has none.
export const PUT: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const input = await readJson(event.request, modelPriceSchema);
		return json(await setModelPrice(services, principal, input, meta));
	});

// ?providerKind&model
export const DELETE: RequestHandler = (event) =>
	api(event, async ({ principal, services, meta }) => {
		const key = parseParameters(modelPriceKeySchema, event.url.searchParams);
		await deleteModelPrice(services, principal, key, meta);
		return new Response(null, { status: 204 });
	});
