import type { ModelPriceInput, ProviderKind } from '../../schemas/agents.ts';
import * as modelPrices from '../db/model-prices.ts';
import type { ModelPrice } from '../db/schema/index.ts';
import { ServiceError, notFound } from '../errors.ts';
import { can } from '../policy.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import { audited } from './audit.ts';
import type { ServiceContext } from './context.ts';

/** One row of the price table: USD per million tokens of one model of one provider kind. */
export type ModelPriceView = Omit<ModelPrice, 'updatedBy'>;

function requirePriceAdmin(principal: Principal): void {
	if (!can(principal, 'instance.prices', 'instance'))
		throw new ServiceError('forbidden', 'Only instance admins can change model prices.');
}

function toView(row: ModelPrice): ModelPriceView {
	const { providerKind, model, inputPerMillion, outputPerMillion, cachedInputPerMillion } = row;
	return {
		providerKind,
		model,
		inputPerMillion,
		outputPerMillion,
		cachedInputPerMillion,
		updatedAt: row.updatedAt
	};
}

export async function listModelPrices(
	ctx: ServiceContext,
	principal: Principal
): Promise<ModelPriceView[]> {
	requirePriceAdmin(principal);
	return (await modelPrices.list(ctx.db)).map(toView);
}

/** Sets a model's price; requests recorded before keep the cost they had. */
export async function setModelPrice(
	ctx: ServiceContext,
	principal: Principal,
	input: ModelPriceInput,
	meta: RequestMeta
): Promise<ModelPriceView> {
	requirePriceAdmin(principal);
	const row = await audited(
		ctx.db,
		meta,
		(tx) =>
			modelPrices.upsert(tx, { ...input, updatedBy: principal.user.id, updatedAt: ctx.now() }),
		{
			action: 'model_price.set',
			actorUserId: principal.user.id,
			target: { type: 'model_price', id: `${input.providerKind}:${input.model}` },
			details: { ...input }
		}
	);
	return toView(row);
}

/** Removes a price: the model's requests cost 0 from then on, recorded as unpriced. */
export async function deleteModelPrice(
	ctx: ServiceContext,
	principal: Principal,
	key: { providerKind: ProviderKind; model: string },
	meta: RequestMeta
): Promise<void> {
	requirePriceAdmin(principal);
	await audited(
		ctx.db,
		meta,
		async (tx) => {
			if ((await modelPrices.remove(tx, key.providerKind, key.model)) === null)
				throw notFound('No price for that model.');
		},
		{
			action: 'model_price.delete',
			actorUserId: principal.user.id,
			target: { type: 'model_price', id: `${key.providerKind}:${key.model}` },
			details: { ...key }
		}
	);
}
