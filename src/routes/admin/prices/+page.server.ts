import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { deleteModelPrice, listModelPrices, setModelPrice } from '$lib/server/services/prices';
import type { Actions, PageServerLoad } from './$types';
import { deletePriceFormSchema, priceFormEcho, priceFormSchema } from './schema';

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const prices = await orHttpError(listModelPrices(event.locals.runtime.services, principal));
	const { searchParams } = event.url;
	const editing =
		prices.find(
			(price) =>
				price.providerKind === searchParams.get('kind') && price.model === searchParams.get('model')
		) ?? null;
	return { prices, editing };
};

export const actions: Actions = {
	set: (event) =>
		runFormAction(event, priceFormSchema, priceFormEcho, async (c) => {
			const saved = await setModelPrice(c.services, c.principal, c.data, c.meta);
			return { saved: { model: saved.model } };
		}),
	delete: (event) =>
		runFormAction(event, deletePriceFormSchema, ['intent', 'providerKind', 'model'], async (c) => {
			await deleteModelPrice(c.services, c.principal, c.data, c.meta);
			return { deleted: { model: c.data.model } };
		})
};
