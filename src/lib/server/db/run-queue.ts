import { sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { rows } from './migrate.ts';
import type { RunError } from './schema/index.ts';

/** A step a worker holds a lease on, with what it needs from its run to execute it. */
export interface ClaimedStep {
	id: string;
	runId: string;
	workspaceId: string;
	nodeId: string;
	iteration: number;
	kind: string;
	/** The status it was claimed from: ready (a fresh attempt), waiting (woken) or running (lease expired). */
	claimedFrom: 'ready' | 'waiting' | 'running';
	input: unknown;
	state: Record<string, unknown> | null;
	error: RunError | null;
	attempt: number;
	leaseEpoch: number;
	runInput: unknown;
	versionId: string;
	workflowId: string;
	/** The run's finished node steps, when the claim already read them (a claim made by a commit). */
	finished?: FinishedStep[];
}

export interface FinishedStep {
	nodeId: string;
	output: unknown;
	branch: string | null;
}

interface ClaimRow {
	id: string;
	run_id: string;
	workspace_id: string;
	node_id: string;
	iteration: number;
	kind: string;
	claimed_from: 'ready' | 'waiting' | 'running';
	input: unknown;
	state: Record<string, unknown> | null;
	error: RunError | null;
	attempt: number;
	lease_epoch: number;
	run_input: unknown;
	version_id: string;
	workflow_id: string;
}

/**
 * Claims up to `limit` due steps under a lease, in one statement: skips rows other workers hold,
 * bumps the lease epoch (the fencing token), marks queued runs running and appends a
 * `step.started` event per step with the next sequence numbers of its run.
 */
export async function claimDueSteps(
	db: Db,
	options: { workerId: string; limit: number; leaseMs: number }
): Promise<ClaimedStep[]> {
	const result = await db.execute(sql`
		with due as (
			select id, status from run_steps
			where status in ('ready', 'waiting', 'running') and due_at <= clock_timestamp()
			order by due_at
			limit ${options.limit}
			for update skip locked
		),
		claimed as (
			update run_steps s set
				status = 'running',
				attempt = s.attempt + case when due.status = 'waiting' then 0 else 1 end,
				lease_epoch = s.lease_epoch + 1,
				leased_by = ${options.workerId},
				due_at = clock_timestamp() + make_interval(secs => ${options.leaseMs / 1000}),
				started_at = coalesce(s.started_at, clock_timestamp())
			from due where s.id = due.id
			returning s.id, s.run_id, s.workspace_id, s.node_id, s.iteration, s.kind, due.status as claimed_from,
				s.input, s.state, s.error, s.attempt, s.lease_epoch
		),
		per_run as (select run_id, count(*)::int as n from claimed group by run_id),
		bumped as (
			update runs r set
				event_seq = r.event_seq + per_run.n,
				status = case when r.status in ('queued', 'waiting') then 'running'::run_status else r.status end,
				started_at = coalesce(r.started_at, clock_timestamp())
			from per_run where r.id = per_run.run_id
			returning r.id, r.event_seq - per_run.n as base_seq, r.input, r.version_id, r.workflow_id
		),
		numbered as (
			select claimed.*, bumped.input as run_input, bumped.version_id, bumped.workflow_id,
				bumped.base_seq + row_number() over (partition by claimed.run_id order by claimed.id) as seq
			from claimed join bumped on bumped.id = claimed.run_id
		),
		events as (
			insert into run_events (run_id, seq, workspace_id, type, step_id, node_id, data)
			select run_id, seq, workspace_id, 'step.started', id, node_id,
				jsonb_build_object('attempt', attempt, 'iteration', iteration, 'resumed', claimed_from = 'waiting',
					'recovered', claimed_from = 'running')
			from numbered
		)
		select * from numbered
	`);
	return rows<ClaimRow>(result).map((row) => ({
		id: row.id,
		runId: row.run_id,
		workspaceId: row.workspace_id,
		nodeId: row.node_id,
		iteration: row.iteration,
		kind: row.kind,
		claimedFrom: row.claimed_from,
		input: row.input,
		state: row.state,
		error: row.error,
		attempt: row.attempt,
		leaseEpoch: row.lease_epoch,
		runInput: row.run_input,
		versionId: row.version_id,
		workflowId: row.workflow_id
	}));
}

/** Extends the leases still held; returns the ids whose lease was lost (taken over, cancelled, finished). */
export async function extendLeases(
	db: Db,
	held: { id: string; leaseEpoch: number }[],
	leaseMs: number
): Promise<string[]> {
	if (held.length === 0) return [];
	const result = await db.execute(sql`
		update run_steps s set due_at = clock_timestamp() + make_interval(secs => ${leaseMs / 1000})
		from jsonb_to_recordset(${JSON.stringify(held)}::jsonb) as h(id uuid, "leaseEpoch" int)
		where s.id = h.id and s.lease_epoch = h."leaseEpoch" and s.status = 'running'
		returning s.id
	`);
	const kept = new Set(rows<{ id: string }>(result).map((row) => row.id));
	return held.filter((lease) => !kept.has(lease.id)).map((lease) => lease.id);
}

/** When the next parked or retrying step falls due, so an idle worker can sleep until then. */
export async function nextDueAt(db: Db): Promise<Date | null> {
	const result = await db.execute(sql`
		select min(due_at) as at from run_steps where status in ('ready', 'waiting', 'running')
	`);
	const at = rows<{ at: Date | string | null }>(result)[0]?.at ?? null;
	return at === null ? null : new Date(at);
}

/** The recorded outputs a step's expressions may read: every finished node step of the run. */
export async function succeededOutputs(db: Db, runId: string): Promise<FinishedStep[]> {
	const result = await db.execute(sql`
		select node_id, output, branch from run_steps
		where run_id = ${runId} and iteration = -1 and status = 'succeeded'
	`);
	return rows<{ node_id: string; output: unknown; branch: string | null }>(result).map((row) => ({
		nodeId: row.node_id,
		output: row.output,
		branch: row.branch
	}));
}

export const stepsChannel = 'awe_steps';

/** Wakes listening workers when the surrounding transaction commits. */
export async function notifyWorkers(db: Db): Promise<void> {
	await db.execute(sql`select pg_notify(${stepsChannel}, '')`);
}
