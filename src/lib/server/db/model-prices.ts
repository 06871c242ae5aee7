import { and, asc, eq } from 'drizzle-orm';
import type { ProviderKind } from '../../schemas/agents.ts';
import type { Db } from './index.ts';
import { modelPrices, type ModelPrice } from './schema/index.ts';

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
