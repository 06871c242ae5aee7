import { maxUsageSpanDays, type UsageQuery } from '../../schemas/usage.ts';
import type { WorkspaceBudget } from '../../schemas/agents.ts';
import * as modelUsage from '../db/model-usage.ts';
import * as workspaces from '../db/workspaces.ts';
import { ServiceError, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import { audited } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { authorizeWorkspace } from './workspaces.ts';

/** A workspace's monthly limits and what this calendar month (UTC) has spent against them. */
export type BudgetView = WorkspaceBudget & {
	month: { start: Date; end: Date; costUsd: number; tokens: number };
};

export type UsageReport = {
	from: Date;
	to: Date;
	groupBy: modelUsage.UsageGroupBy;
	groups: modelUsage.UsageGroup[];
	total: modelUsage.UsageTotals;
};

const dayMs = 24 * 60 * 60 * 1000;

async function budgetOf(ctx: ServiceContext, workspaceId: string): Promise<BudgetView> {
	const workspace = await workspaces.get(ctx.db, workspaceId);
	if (workspace === null) throw notFound('Workspace not found.');
	const now = ctx.now();
	return {
		monthlyCostLimitUsd: workspace.monthlyCostLimitUsd,
		monthlyTokenLimit: workspace.monthlyTokenLimit,
		month: {
			...modelUsage.monthBounds(now),
			...(await modelUsage.monthSpend(ctx.db, workspaceId, now))
		}
	};
}

/** Every member may see the limits and this month's spend (the workspace itself shows the limits). */
export async function getBudget(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
): Promise<BudgetView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'usage.read');
	return budgetOf(ctx, workspaceId);
}

/** Sets both limits (null: none); runs started before see the new limits from their next model call. */
export async function setBudget(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	budget: WorkspaceBudget,
	meta: RequestMeta
): Promise<BudgetView> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'budget.manage');
	await audited(
		ctx.db,
		meta,
		async (tx) => {
			if ((await workspaces.setLimits(tx, workspaceId, budget)) === null)
				throw notFound('Workspace not found.');
		},
		{
			action: 'workspace.budget_changed',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'workspace', id: workspaceId },
			details: { ...budget }
		}
	);
	return budgetOf(ctx, workspaceId);
}

/** Model spending of a span (this calendar month by default), summed by the database and grouped. */
export async function getUsage(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	query: UsageQuery
): Promise<UsageReport> {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'usage.read');
	const month = modelUsage.monthBounds(ctx.now());
	const from = query.from ?? month.start;
	const to = query.to ?? month.end;
	if (to.getTime() <= from.getTime())
		throw new ServiceError('invalid', 'The span is empty.', {
			fields: { to: 'Give a later end.' }
		});
	if (to.getTime() - from.getTime() > maxUsageSpanDays * dayMs)
		throw new ServiceError('invalid', `Ask for at most ${maxUsageSpanDays} days at once.`, {
			fields: { to: `At most ${maxUsageSpanDays} days after from.` }
		});
	const { groups, total } = await modelUsage.summarize(ctx.db, workspaceId, {
		from,
		to,
		groupBy: query.groupBy
	});
	return { from, to, groupBy: query.groupBy, groups, total };
}
