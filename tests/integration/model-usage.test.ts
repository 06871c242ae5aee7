import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { monthSpend, summarize } from '../../src/lib/server/db/model-usage.ts';
import {
	modelUsage,
	modelUsageMonths,
	runs,
	workflowVersions
} from '../../src/lib/server/db/schema/index.ts';
import { getBudget } from '../../src/lib/server/services/usage.ts';
import { createWorkflow } from '../../src/lib/server/services/workflows.ts';
import { createWorkspace } from '../../src/lib/server/services/workspaces.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import { createClock } from '../helpers/clock.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createTestServices, meta, signUpUser } from '../helpers/services.ts';

/** The ledger's read-outs over rows written directly, as the engine writes them. */

const testDb = useTestDatabase();

let ctx: ReturnType<typeof createTestServices>;
let workspaceId: string;
let otherWorkspaceId: string;
let workflowId: string;
let runId: string;
let ownerPrincipal: Principal;
let otherRunId: string;

/** A run of a new workflow in a workspace, for the ledger rows to belong to. */
async function runIn(principal: Principal, workspace: string) {
	const workflow = await createWorkflow(
		ctx,
		principal,
		workspace,
		{ name: 'Flow', description: '' },
		meta
	);
	const [version] = await ctx.db
		.select()
		.from(workflowVersions)
		.where(eq(workflowVersions.workflowId, workflow.id));
	if (!version) throw new Error('no version');
	const [run] = await ctx.db
		.insert(runs)
		.values({
			workspaceId: workspace,
			workflowId: workflow.id,
			versionId: version.id,
			input: {},
			trigger: 'api'
		})
		.returning();
	if (!run) throw new Error('no run');
	return { workflowId: workflow.id, runId: run.id };
}

async function spend(
	at: string,
	values: Partial<typeof modelUsage.$inferInsert> = {},
	workspace = workspaceId,
	run = runId
) {
	const [row] = await ctx.db
		.insert(modelUsage)
		.values({
			workspaceId: workspace,
			runId: run,
			workflowId: workspace === workspaceId ? workflowId : null,
			providerKind: 'openai',
			model: 'gpt-4.1-mini',
			inputTokens: 1_000,
			outputTokens: 100,
			durationMs: 50,
			costUsd: 0.01,
			priced: true,
			createdAt: new Date(at),
			...values
		})
		.returning();
	if (!row) throw new Error('no ledger row');
	// The month's running total, added to as the engine's ledger write adds to it.
	const tokens = row.inputTokens + row.outputTokens;
	await ctx.db
		.insert(modelUsageMonths)
		.values({
			workspaceId: workspace,
			month: `${at.slice(0, 7)}-01`,
			tokens,
			costUsd: row.costUsd,
			requests: 1
		})
		.onConflictDoUpdate({
			target: [modelUsageMonths.workspaceId, modelUsageMonths.month],
			set: {
				tokens: sql`${modelUsageMonths.tokens} + ${tokens}`,
				costUsd: sql`${modelUsageMonths.costUsd} + ${row.costUsd}`,
				requests: sql`${modelUsageMonths.requests} + 1`
			}
		});
}

beforeAll(async () => {
	ctx = createTestServices(testDb.database);
	const owner = await signUpUser(ctx, { name: 'Owner' });
	ownerPrincipal = owner.principal;
	workspaceId = (await createWorkspace(ctx, owner.principal, { name: 'Spender' }, meta)).id;
	otherWorkspaceId = (await createWorkspace(ctx, owner.principal, { name: 'Other' }, meta)).id;
	({ workflowId, runId } = await runIn(owner.principal, workspaceId));
	otherRunId = (await runIn(owner.principal, otherWorkspaceId)).runId;
	// March 2026 (UTC): the first and last instants, and one each side of the month.
	await spend('2026-02-28T23:59:59.999Z', { costUsd: 100, inputTokens: 100_000 });
	await spend('2026-03-01T00:00:00.000Z', { costUsd: 0.25, inputTokens: 2_000, outputTokens: 500 });
	await spend('2026-03-15T12:00:00.000Z', {
		model: 'llama3.2',
		providerKind: 'openai-compatible',
		costUsd: 0,
		priced: false,
		inputTokens: 300,
		outputTokens: 30
	});
	await spend('2026-03-31T23:59:59.999Z', {
		costUsd: 0.5,
		inputTokens: 1_000,
		outputTokens: 250,
		cachedInputTokens: 400
	});
	await spend('2026-04-01T00:00:00.000Z', { costUsd: 7 });
	await spend('2026-03-10T00:00:00.000Z', { costUsd: 50 }, otherWorkspaceId, otherRunId);
});

describe('monthSpend', () => {
	it('sums the calendar month (UTC) of `now`, of this workspace only', async () => {
		const march = { costUsd: 0.75, tokens: 2_000 + 500 + 300 + 30 + 1_000 + 250 };
		for (const now of [
			'2026-03-01T00:00:00Z',
			'2026-03-20T08:00:00Z',
			'2026-03-31T23:59:59.999Z'
		]) {
			const sum = await monthSpend(ctx.db, workspaceId, new Date(now));
			expect(sum.tokens).toBe(march.tokens);
			expect(sum.costUsd).toBeCloseTo(march.costUsd, 12);
		}
		expect(await monthSpend(ctx.db, workspaceId, new Date('2026-04-10T00:00:00Z'))).toEqual({
			costUsd: 7,
			tokens: 1_100
		});
		expect(await monthSpend(ctx.db, workspaceId, new Date('2025-03-10T00:00:00Z'))).toEqual({
			costUsd: 0,
			tokens: 0
		});
		expect(await monthSpend(ctx.db, randomUUID(), new Date('2026-03-10T00:00:00Z'))).toEqual({
			costUsd: 0,
			tokens: 0
		});
	});

	it('is what the budget read-out shows', async () => {
		const inMarch = createTestServices(
			testDb.database,
			createClock(new Date('2026-03-20T00:00:00Z'))
		);
		const budget = await getBudget(inMarch, ownerPrincipal, workspaceId);
		expect(budget).toMatchObject({
			monthlyCostLimitUsd: null,
			monthlyTokenLimit: null,
			month: {
				start: new Date('2026-03-01T00:00:00Z'),
				end: new Date('2026-04-01T00:00:00Z'),
				tokens: 4_080
			}
		});
		expect(budget.month.costUsd).toBeCloseTo(0.75, 12);
	});
});

describe('summarize', () => {
	const march = { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') };

	it('groups by day (UTC), model and workflow, with totals', async () => {
		const byDay = await summarize(ctx.db, workspaceId, { ...march, groupBy: 'day' });
		expect(byDay.groups.map((group) => ('day' in group ? group.day : null))).toEqual([
			'2026-03-01',
			'2026-03-15',
			'2026-03-31'
		]);
		expect(byDay.total).toMatchObject({
			requests: 3,
			inputTokens: 3_300,
			outputTokens: 780,
			cachedInputTokens: 400,
			unpricedRequests: 1
		});
		expect(byDay.total.costUsd).toBeCloseTo(0.75, 12);
		const byModel = await summarize(ctx.db, workspaceId, { ...march, groupBy: 'model' });
		expect(byModel.groups).toEqual([
			expect.objectContaining({ providerKind: 'openai', model: 'gpt-4.1-mini', requests: 2 }),
			expect.objectContaining({
				providerKind: 'openai-compatible',
				model: 'llama3.2',
				requests: 1,
				unpricedRequests: 1,
				costUsd: 0
			})
		]);
		const byWorkflow = await summarize(ctx.db, workspaceId, { ...march, groupBy: 'workflow' });
		expect(byWorkflow.groups).toEqual([
			expect.objectContaining({ workflowId, workflowName: 'Flow', requests: 3 })
		]);
	});
});
