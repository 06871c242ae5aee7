import { and, asc, eq } from 'drizzle-orm';
import type { ProviderKind } from '../../schemas/agents.ts';
import type { Db } from './index.ts';
import { modelPrices, type ModelPrice } from './schema/index.ts';

/** USD per million tokens of one model; cached input costs the input price when it has none. */
export type Price = {
	inputPerMillion: number;
	outputPerMillion: number;
	cachedInputPerMillion: number | null;
};

/** Tokens of one model request; `cachedInputTokens` is the part of `inputTokens` read from a cache. */
export type TokenUsage = { inputTokens: number; outputTokens: number; cachedInputTokens?: number };

export async function list(db: Db): Promise<ModelPrice[]> {
	return db
		.select()
		.from(modelPrices)
		.orderBy(asc(modelPrices.providerKind), asc(modelPrices.model));
}

/** Sets the price of a model, adding the row when it has none. */
export async function upsert(db: Db, values: typeof modelPrices.$inferInsert): Promise<ModelPrice> {
	const { inputPerMillion, outputPerMillion, cachedInputPerMillion, updatedBy, updatedAt } = values;
	const [price] = await db
		.insert(modelPrices)
		.values(values)
		.onConflictDoUpdate({
			target: [modelPrices.providerKind, modelPrices.model],
			set: { inputPerMillion, outputPerMillion, cachedInputPerMillion, updatedBy, updatedAt }
		})
		.returning();
	if (!price) throw new Error('upsert returned no row');
	return price;
}

export async function remove(
	db: Db,
	providerKind: ProviderKind,
	model: string
): Promise<ModelPrice | null> {
	const [deleted] = await db
		.delete(modelPrices)
		.where(and(eq(modelPrices.providerKind, providerKind), eq(modelPrices.model, model)))
		.returning();
	return deleted ?? null;
}

/**
 * What a model costs, for the ledger: null when the table has no price for it (its requests are
 * then recorded at cost 0, unpriced). The model name is matched exactly.
 */
export async function priceFor(
	db: Db,
	providerKind: ProviderKind,
	model: string
): Promise<Price | null> {
	const [price] = await db
		.select({
			inputPerMillion: modelPrices.inputPerMillion,
			outputPerMillion: modelPrices.outputPerMillion,
			cachedInputPerMillion: modelPrices.cachedInputPerMillion
		})
		.from(modelPrices)
		.where(and(eq(modelPrices.providerKind, providerKind), eq(modelPrices.model, model)));
	return price ?? null;
}

/**
 * The cost of one request in USD. Without a price the cost is 0 and `priced` false, so the ledger
 * still counts its tokens and the read-outs can say that some spending is unknown.
 */
export function costOf(
	usage: TokenUsage,
	price: Price | null
): { costUsd: number; priced: boolean } {
	if (price === null) return { costUsd: 0, priced: false };
	const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
	const cachedPrice = price.cachedInputPerMillion ?? price.inputPerMillion;
	const micro =
		(usage.inputTokens - cached) * price.inputPerMillion +
		cached * cachedPrice +
		usage.outputTokens * price.outputPerMillion;
	return { costUsd: micro / 1_000_000, priced: true };
}
