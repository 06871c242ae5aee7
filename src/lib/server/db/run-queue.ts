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
	/** '' for node steps and map iterations; a child step's place under its parent (engine/children.ts). */
	path: string;
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
	/** The whole run as the claim left it, when the claim could read it consistently. */
	snapshot?: RunSnapshot;
}

/**
 * A run and all its steps as of event sequence number `seq`. Every change to a run's steps appends
 * events, so while `runs.event_seq` still equals `seq` nothing in the snapshot has changed.
 */
export interface RunSnapshot {
	run: {
		id: string;
		workspace_id: string;
		workflow_id: string;
		version_id: string;
		status: 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';
		input: unknown;
		parent_step_id: string | null;
		parent_run_id: string | null;
	};
	seq: number;
	steps: SnapshotStep[];
}

export interface SnapshotStep {
	id: string;
	node_id: string;
	iteration: number;
	path: string;
	status:
		'pending' | 'ready' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
	branch: string | null;
	attempt: number;
	lease_epoch: number;
	/** Only for succeeded node steps. */
	output?: unknown;
}

export interface FinishedStep {
	nodeId: string;
	output: unknown;
	branch: string | null;
}

/** A node's own step: not an iteration of a map, not a child of another step. */
export function isNodeStep(step: { iteration: number; path: string }): boolean {
	return step.iteration < 0 && step.path === '';
}

/** The succeeded node steps among a run's steps, with their outputs. */
export function finishedSteps(
	steps: {
		node_id: string;
		iteration: number;
		path: string;
		status: string;
		branch: string | null;
		output?: unknown;
	}[]
): FinishedStep[] {
	return steps
		.filter((step) => isNodeStep(step) && step.status === 'succeeded')
		.map((step) => ({ nodeId: step.node_id, output: step.output ?? null, branch: step.branch }));
}

interface ClaimRow {
	id: string;
	run_id: string;
	workspace_id: string;
	node_id: string;
	iteration: number;
	path: string;
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
	run_status: RunSnapshot['run']['status'];
	parent_step_id: string | null;
	parent_run_id: string | null;
	seq: number;
	steps: SnapshotStep[] | null;
}

/**
 * Claims up to `limit` due steps under a lease, in one statement: skips rows other workers hold,
 * bumps the lease epoch (the fencing token), marks queued runs running and appends a
 * `step.started` event per step with the next sequence numbers of its run. Each claimed step comes
 * with a snapshot of its run when no other commit to the run raced the claim.
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
			returning s.id, s.run_id, s.workspace_id, s.node_id, s.iteration, s.path, s.kind, due.status as claimed_from,
				s.input, s.state, s.error, s.attempt, s.lease_epoch
		),
		per_run as (select run_id, count(*)::int as n from claimed group by run_id),
		bumped as (
			update runs r set
				event_seq = r.event_seq + per_run.n,
				status = case when r.status in ('queued', 'waiting') then 'running'::run_status else r.status end,
				started_at = coalesce(r.started_at, clock_timestamp())
			from per_run where r.id = per_run.run_id
			returning r.id, r.event_seq - per_run.n as base_seq, r.event_seq as seq, r.input, r.version_id,
				r.workflow_id, r.status, r.parent_step_id, r.parent_run_id
		),
		numbered as (
			select claimed.*, bumped.input as run_input, bumped.version_id, bumped.workflow_id,
				bumped.base_seq + row_number() over (partition by claimed.run_id order by claimed.id) as event_seq
			from claimed join bumped on bumped.id = claimed.run_id
		),
		-- This statement's snapshot predates the run lock: it is the run's state only if no commit
		-- bumped the run's sequence number in between.
		snapshots as (
			select bumped.id as run_id, bumped.seq, bumped.status as run_status, bumped.parent_step_id,
				bumped.parent_run_id,
				case when seen.event_seq = bumped.base_seq then (
					select jsonb_agg(jsonb_build_object('id', s.id, 'node_id', s.node_id, 'iteration', s.iteration,
						'path', s.path, 'status', s.status, 'branch', s.branch, 'attempt', s.attempt, 'lease_epoch', s.lease_epoch,
						'output', case when s.status = 'succeeded' and s.iteration < 0 and s.path = '' then s.output end))
					from run_steps s where s.run_id = bumped.id
				) end as steps
			from bumped join runs seen on seen.id = bumped.id
		),
		events as (
			insert into run_events (run_id, seq, workspace_id, type, step_id, node_id, data)
			select run_id, event_seq, workspace_id, 'step.started', id, node_id,
				jsonb_build_object('attempt', attempt, 'iteration', iteration, 'resumed', claimed_from = 'waiting',
					'recovered', claimed_from = 'running')
					|| case when path <> '' then jsonb_build_object('path', path, 'kind', kind) else '{}'::jsonb end
			from numbered
		)
		select numbered.*, snapshots.seq, snapshots.run_status, snapshots.parent_step_id,
			snapshots.parent_run_id, snapshots.steps
		from numbered join snapshots using (run_id)
	`);
	const claimedRows = rows<ClaimRow>(result);
	const snapshots = new Map<string, RunSnapshot>();
	const mine = new Map(claimedRows.map((claimed) => [claimed.id, claimed]));
	for (const row of claimedRows) {
		if (row.steps === null || snapshots.has(row.run_id)) continue;
		snapshots.set(row.run_id, {
			run: {
				id: row.run_id,
				workspace_id: row.workspace_id,
				workflow_id: row.workflow_id,
				version_id: row.version_id,
				status: row.run_status,
				input: row.run_input,
				parent_step_id: row.parent_step_id,
				parent_run_id: row.parent_run_id
			},
			seq: Number(row.seq),
			// The snapshot shows our claims as they were before: apply them.
			steps: row.steps.map((step) => {
				const claimed = mine.get(step.id);
				return claimed
					? {
							...step,
							status: 'running',
							attempt: claimed.attempt,
							lease_epoch: claimed.lease_epoch
						}
					: step;
			})
		});
	}
	return claimedRows.map((row) => {
		const snapshot = snapshots.get(row.run_id);
		return {
			id: row.id,
			runId: row.run_id,
			workspaceId: row.workspace_id,
			nodeId: row.node_id,
			iteration: row.iteration,
			path: row.path,
			kind: row.kind,
			claimedFrom: row.claimed_from,
			input: row.input,
			state: row.state,
			error: row.error,
			attempt: row.attempt,
			leaseEpoch: row.lease_epoch,
			runInput: row.run_input,
			versionId: row.version_id,
			workflowId: row.workflow_id,
			snapshot,
			finished: snapshot && finishedSteps(snapshot.steps)
		};
	});
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
		where run_id = ${runId} and iteration = -1 and path = '' and status = 'succeeded'
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
