import { and, asc, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from './index.ts';
import { modelUsage, modelUsageMonths, workflows } from './schema/index.ts';

/** Totals of a set of ledger rows. Tokens are input plus output (cached input is part of input). */
export type UsageTotals = {
	requests: number;
	inputTokens: number;
	outputTokens: number;
	cachedInputTokens: number;
	costUsd: number;
	/** Requests to models without a price, counted at cost 0. */
	unpricedRequests: number;
};

export type UsageGroupBy = 'workflow' | 'model' | 'day';

/** One group of a read-out; the fields that name it depend on the grouping. */
export type UsageGroup = UsageTotals &
	(
		| { workflowId: string | null; workflowName: string | null }
		| { providerKind: string; model: string }
		| { day: string }
	);

// Sums are numeric or bigint in SQL; both arrive as strings from postgres.js.
const totals = {
	requests: sql<number>`count(*)`.mapWith(Number),
	inputTokens: sql<number>`coalesce(sum(${modelUsage.inputTokens}), 0)`.mapWith(Number),
	outputTokens: sql<number>`coalesce(sum(${modelUsage.outputTokens}), 0)`.mapWith(Number),
	cachedInputTokens: sql<number>`coalesce(sum(${modelUsage.cachedInputTokens}), 0)`.mapWith(Number),
	costUsd: sql<number>`coalesce(sum(${modelUsage.costUsd}), 0)`.mapWith(Number),
	unpricedRequests: sql<number>`count(*) filter (where not ${modelUsage.priced})`.mapWith(Number)
};

/** The first instant of `now`'s calendar month and of the next one, in UTC. */
export function monthBounds(now: Date): { start: Date; end: Date } {
	const year = now.getUTCFullYear();
	const month = now.getUTCMonth();
	return { start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

/**
 * What a workspace has spent on models in `now`'s calendar month (UTC), for its monthly limits:
 * the cost in USD and the tokens (input plus output), from the month's running total (which deleted
 * runs do not lower).
 */
export async function monthSpend(
	db: Db,
	workspaceId: string,
	now: Date
): Promise<{ costUsd: number; tokens: number }> {
	const { start } = monthBounds(now);
	const [row] = await db
		.select({ costUsd: modelUsageMonths.costUsd, tokens: modelUsageMonths.tokens })
		.from(modelUsageMonths)
		.where(
			and(
				eq(modelUsageMonths.workspaceId, workspaceId),
				eq(modelUsageMonths.month, start.toISOString().slice(0, 10))
			)
		);
	return row ?? { costUsd: 0, tokens: 0 };
}

/** Totals of a workspace's ledger rows from `from` (inclusive) to `to` (exclusive), grouped. */
export async function summarize(
	db: Db,
	workspaceId: string,
	range: { from: Date; to: Date; groupBy: UsageGroupBy }
): Promise<{ groups: UsageGroup[]; total: UsageTotals }> {
	const where = and(
		eq(modelUsage.workspaceId, workspaceId),
		gte(modelUsage.createdAt, range.from),
		lt(modelUsage.createdAt, range.to)
	);
	const [total] = await db.select(totals).from(modelUsage).where(where);
	if (!total) throw new Error('an aggregate returned no row');
	return { groups: await grouped(db, where, range.groupBy), total };
}

async function grouped(
	db: Db,
	where: SQL | undefined,
	groupBy: UsageGroupBy
): Promise<UsageGroup[]> {
	switch (groupBy) {
		case 'workflow':
			return db
				.select({
					workflowId: modelUsage.workflowId,
					workflowName: sql<string | null>`min(${workflows.name})`,
					...totals
				})
				.from(modelUsage)
				.leftJoin(workflows, eq(workflows.id, modelUsage.workflowId))
				.where(where)
				.groupBy(modelUsage.workflowId)
				.orderBy(desc(totals.costUsd), asc(modelUsage.workflowId));
		case 'model':
			return db
				.select({ providerKind: modelUsage.providerKind, model: modelUsage.model, ...totals })
				.from(modelUsage)
				.where(where)
				.groupBy(modelUsage.providerKind, modelUsage.model)
				.orderBy(desc(totals.costUsd), asc(modelUsage.providerKind), asc(modelUsage.model));
		case 'day': {
			const day = sql<string>`to_char(${modelUsage.createdAt} at time zone 'UTC', 'YYYY-MM-DD')`;
			return db
				.select({ day, ...totals })
				.from(modelUsage)
				.where(where)
				.groupBy(day)
				.orderBy(asc(day));
		}
	}
}
