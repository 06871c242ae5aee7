import {
	and,
	asc,
	desc,
	eq,
	getTableColumns,
	gt,
	inArray,
	lt,
	or,
	sql,
	type SQL
} from 'drizzle-orm';
import type { RunStatus } from '../../schemas/run-status.ts';
import type { Db } from './index.ts';
import { rows } from './migrate.ts';
import {
	approvals,
	runEvents,
	runSteps,
	runs,
	workflows,
	type Approval,
	type Run,
	type RunEvent,
	type RunStep
} from './schema/index.ts';

const runColumns = Object.entries(getTableColumns(runs));

/**
 * A `runs` row read by a hand-written statement (`returning *`: columns by their SQL names, values
 * as the driver gives them) as the Run a query-builder select would give.
 */
export function fromRow(row: Record<string, unknown>): Run {
	const run: Record<string, unknown> = {};
	for (const [key, column] of runColumns) {
		const value = row[column.name];
		run[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
	}
	return run as Run;
}

export async function get(db: Db, workspaceId: string, id: string): Promise<Run | null> {
	const [run] = await db
		.select()
		.from(runs)
		.where(and(eq(runs.workspaceId, workspaceId), eq(runs.id, id)));
	return run ?? null;
}

/** The workspace and last event number of a run found by id alone (the caller authorizes). */
export async function getPosition(
	db: Db,
	id: string
): Promise<{ workspaceId: string; eventSeq: number } | null> {
	const [run] = await db
		.select({ workspaceId: runs.workspaceId, eventSeq: runs.eventSeq })
		.from(runs)
		.where(eq(runs.id, id));
	return run ?? null;
}

export interface RunFilter {
	workflowId?: string;
	status?: RunStatus[];
	trigger?: Run['trigger'];
	/** Keyset pagination: runs created before this one. */
	before?: { createdAt: Date; id: string };
	limit: number;
}

export type RunSummary = Omit<Run, 'input' | 'output'> & { workflowName: string };

export async function list(db: Db, workspaceId: string, filter: RunFilter): Promise<RunSummary[]> {
	const conditions: SQL[] = [eq(runs.workspaceId, workspaceId)];
	if (filter.workflowId) conditions.push(eq(runs.workflowId, filter.workflowId));
	if (filter.status?.length) conditions.push(inArray(runs.status, filter.status));
	if (filter.trigger) conditions.push(eq(runs.trigger, filter.trigger));
	if (filter.before) {
		const older = or(
			lt(runs.createdAt, filter.before.createdAt),
			and(eq(runs.createdAt, filter.before.createdAt), lt(runs.id, filter.before.id))
		);
		if (older) conditions.push(older);
	}
	const found = await db
		.select({
			run: {
				id: runs.id,
				workspaceId: runs.workspaceId,
				workflowId: runs.workflowId,
				versionId: runs.versionId,
				status: runs.status,
				error: runs.error,
				trigger: runs.trigger,
				triggerId: runs.triggerId,
				parentRunId: runs.parentRunId,
				parentStepId: runs.parentStepId,
				rerunOf: runs.rerunOf,
				createdBy: runs.createdBy,
				eventSeq: runs.eventSeq,
				deadlineAt: runs.deadlineAt,
				createdAt: runs.createdAt,
				startedAt: runs.startedAt,
				finishedAt: runs.finishedAt
			},
			workflowName: workflows.name
		})
		.from(runs)
		.innerJoin(workflows, eq(workflows.id, runs.workflowId))
		.where(and(...conditions))
		.orderBy(desc(runs.createdAt), desc(runs.id))
		.limit(filter.limit);
	return found.map((row) => ({ ...row.run, workflowName: row.workflowName }));
}

export async function listSteps(db: Db, runId: string): Promise<RunStep[]> {
	return db
		.select()
		.from(runSteps)
		.where(eq(runSteps.runId, runId))
		.orderBy(asc(runSteps.createdAt), asc(runSteps.iteration), asc(runSteps.nodeId));
}

export async function getStep(db: Db, runId: string, stepId: string): Promise<RunStep | null> {
	const [step] = await db
		.select()
		.from(runSteps)
		.where(and(eq(runSteps.runId, runId), eq(runSteps.id, stepId)));
	return step ?? null;
}

export async function listEvents(
	db: Db,
	runId: string,
	afterSeq: number,
	limit: number
): Promise<RunEvent[]> {
	return db
		.select()
		.from(runEvents)
		.where(and(eq(runEvents.runId, runId), gt(runEvents.seq, afterSeq)))
		.orderBy(asc(runEvents.seq))
		.limit(limit);
}

export type ApprovalWithRun = Approval & { workflowName: string; workflowId: string };

export async function listApprovals(
	db: Db,
	workspaceId: string,
	status: Approval['status'] | null,
	limit: number
): Promise<ApprovalWithRun[]> {
	const found = await db
		.select({ approval: approvals, workflowName: workflows.name, workflowId: workflows.id })
		.from(approvals)
		.innerJoin(runs, eq(runs.id, approvals.runId))
		.innerJoin(workflows, eq(workflows.id, runs.workflowId))
		.where(
			and(
				eq(approvals.workspaceId, workspaceId),
				status === null ? undefined : eq(approvals.status, status)
			)
		)
		.orderBy(desc(approvals.createdAt))
		.limit(limit);
	return found.map((row) => ({
		...row.approval,
		workflowName: row.workflowName,
		workflowId: row.workflowId
	}));
}

export async function getApproval(
	db: Db,
	workspaceId: string,
	id: string
): Promise<Approval | null> {
	const [approval] = await db
		.select()
		.from(approvals)
		.where(and(eq(approvals.workspaceId, workspaceId), eq(approvals.id, id)));
	return approval ?? null;
}

/** Tokens and cost of model requests, summed. */
export interface UsageTotals {
	requests: number;
	inputTokens: number;
	outputTokens: number;
	cachedInputTokens: number;
	costUsd: number;
	/** Requests to models without a price: counted at 0. */
	unpriced: number;
}

/** A run's model usage from the cost ledger: in total and per step (by step id). */
export async function usageOfRun(
	db: Db,
	runId: string
): Promise<{ total: UsageTotals; byStep: Map<string, UsageTotals> }> {
	const result = await db.execute(sql`
		select step_id, count(*)::int as requests, sum(input_tokens)::float8 as input_tokens,
			sum(output_tokens)::float8 as output_tokens, sum(cached_input_tokens)::float8 as cached_input_tokens,
			sum(cost_usd)::float8 as cost_usd, count(*) filter (where not priced)::int as unpriced
		from model_usage where run_id = ${runId}
		group by step_id
	`);
	const total: UsageTotals = {
		requests: 0,
		inputTokens: 0,
		outputTokens: 0,
		cachedInputTokens: 0,
		costUsd: 0,
		unpriced: 0
	};
	const byStep = new Map<string, UsageTotals>();
	for (const row of rows<{
		step_id: string | null;
		requests: number;
		input_tokens: number;
		output_tokens: number;
		cached_input_tokens: number;
		cost_usd: number;
		unpriced: number;
	}>(result)) {
		const totals: UsageTotals = {
			requests: Number(row.requests),
			inputTokens: Number(row.input_tokens),
			outputTokens: Number(row.output_tokens),
			cachedInputTokens: Number(row.cached_input_tokens),
			costUsd: Number(row.cost_usd),
			unpriced: Number(row.unpriced)
		};
		for (const key of Object.keys(total) as (keyof UsageTotals)[]) total[key] += totals[key];
		if (row.step_id !== null) byStep.set(row.step_id, totals);
	}
	return { total, byStep };
}
