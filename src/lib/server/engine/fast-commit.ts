import { activeRunStatusList } from '../db/schema/runs.ts';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import {
	finishedSteps,
	stepsChannel,
	isNodeStep,
	type ClaimedStep,
	type RunSnapshot,
	type SnapshotStep
} from '../db/run-queue.ts';
import type { WorkflowGraph } from './definition.ts';
import type { StepLogEntry } from './kinds/types.ts';
import {
	claimedOnCommit,
	decideSuccessors,
	runOutput,
	settleDecision,
	startedEvent,
	type ClaimOnCommit,
	type PendingEvent,
	type StepRow,
	type SuccessorDecisions
} from './transitions.ts';
import type { RunEventMessage } from '../channels.ts';

// The common commit — a node step succeeded — decided in memory from a snapshot of the run and
// written in one autocommitted statement that applies only while the run's event sequence number
// is still the snapshot's. Anything else (failures, waits, map iterations, a snapshot gone stale)
// takes the transactional path in step-runner.ts, which locks the run and reads it again.

/** A commit decided in memory, ready to be written. */
export interface PlannedCommit {
	runId: string;
	workspaceId: string;
	/** The run's row of the commit statement's input. */
	row: Record<string, unknown>;
	/**
	 * What becomes of its successors (see decideSuccessors), and the steps executed in this commit
	 * (see chainCommits): claimed and succeeded at once, with their input and output.
	 */
	changes: (
		| SuccessorDecisions['changes'][number]
		| { id: string; status: 'succeeded'; input: unknown; output: unknown; branch: string | null }
	)[];
	events: (PendingEvent & { seq: number })[];
	/** Steps this commit claims for the committing worker. */
	claimed: ClaimedStep[];
	/** Ready steps are left for others, or a parent run must wake up. */
	wake: boolean;
	/** The run after the commit, or null when it finished. */
	next: RunSnapshot | null;
}

/**
 * Decides what recording `output` for `step` changes, as the transactional path would: the step's
 * successors, the run's status and its events. Null when the snapshot cannot decide it.
 */
export async function planCommit(
	snapshot: RunSnapshot,
	graph: WorkflowGraph,
	step: ClaimedStep,
	input: unknown,
	result: { output: unknown; branch?: string; logs?: StepLogEntry[] },
	claim: ClaimOnCommit | null
): Promise<PlannedCommit | null> {
	if (!isNodeStep(step)) return null;
	const steps = snapshot.steps.map((row) => ({ ...row }));
	const mine = steps.find((row) => row.id === step.id);
	if (!mine || mine.status !== 'running' || mine.lease_epoch !== step.leaseEpoch) return null;
	mine.status = 'succeeded';
	mine.output = result.output ?? null;
	mine.branch = result.branch ?? null;
	const { run } = snapshot;
	const events: PendingEvent[] = result.logs?.length
		? [{ type: 'step.logs', stepId: step.id, nodeId: step.nodeId, data: { entries: result.logs } }]
		: [];
	events.push({
		type: 'step.succeeded',
		stepId: step.id,
		nodeId: step.nodeId,
		data: { branch: result.branch ?? null }
	});
	const nodes = new Map<string, StepRow>(steps.filter(isNodeStep).map((row) => [row.node_id, row]));
	const decisions = decideSuccessors(graph, step.nodeId, nodes, claim?.limit ?? 0, claim?.inline);
	for (const skipped of decisions.skipped) {
		events.push({ type: 'step.skipped', stepId: skipped.id, nodeId: skipped.node_id });
	}
	const byId = new Map(steps.map((row) => [row.id, row]));
	const kindOf = (row: SnapshotStep) => graph.nodes.get(row.node_id)?.kind ?? 'unknown';
	const claimedRows: SnapshotStep[] = [];
	for (const change of decisions.changes) {
		const row = byId.get(change.id) as SnapshotStep;
		if (change.status !== 'running') continue;
		row.attempt += 1;
		row.lease_epoch += 1;
		claimedRows.push(row);
		events.push(startedEvent({ ...row, kind: kindOf(row) }));
	}
	let runStatus: RunSnapshot['run']['status'] | null = null;
	let output: unknown = null;
	let wake = decisions.wake;
	const settled = settleDecision(steps);
	if (settled === 'finished') {
		const outputs: Record<string, { output: unknown }> = {};
		for (const row of nodes.values()) {
			if (row.status === 'succeeded') outputs[row.node_id] = { output: byId.get(row.id)?.output };
		}
		try {
			output = (await runOutput(graph, run.input, outputs)) ?? null;
		} catch {
			// The run fails with output_error: the transactional path records that.
			return null;
		}
		runStatus = 'succeeded';
		events.push({ type: 'run.succeeded', data: {} });
		if (run.parent_step_id !== null) wake = true;
	} else if (settled !== run.status && !(run.status === 'queued' && settled === 'running')) {
		runStatus = settled;
		if (settled === 'waiting') events.push({ type: 'run.waiting' });
	}
	const numbered = events.map((event, index) => ({ ...event, seq: snapshot.seq + index + 1 }));
	const finished = finishedSteps(steps);
	const nextRun = { ...run, status: runStatus ?? run.status };
	const next =
		runStatus === 'succeeded' ? null : { run: nextRun, seq: snapshot.seq + events.length, steps };
	return {
		runId: run.id,
		workspaceId: run.workspace_id,
		row: {
			runId: run.id,
			seq: snapshot.seq,
			n: events.length,
			stepId: step.id,
			epoch: step.leaseEpoch,
			input: input ?? null,
			output: result.output ?? null,
			branch: result.branch ?? null,
			runStatus,
			runOutput: output,
			parentStep: runStatus === 'succeeded' ? run.parent_step_id : null
		},
		changes: decisions.changes,
		events: numbered,
		claimed: claimedRows.map((row) =>
			claimedOnCommit(run, { ...row, kind: kindOf(row) }, finished)
		),
		wake,
		next
	};
}

/**
 * One commit out of two: `first` claims a step for this worker, which executed it at once (it is
 * inline, see NodeKind), and `second` records its result on the run as `first` leaves it. The step
 * goes from its previous status to succeeded in the one statement, with the events of both.
 */
export function chainCommits(first: PlannedCommit, second: PlannedCommit): PlannedCommit {
	const { stepId, input, output, branch } = second.row;
	const changes = new Map(first.changes.map((change) => [change.id, change]));
	changes.set(stepId as string, {
		id: stepId as string,
		status: 'succeeded',
		input,
		output,
		branch: branch as string | null
	});
	// A later decision about the same step wins (a step both commits reach).
	for (const change of second.changes) changes.set(change.id, change);
	const events = [...first.events, ...second.events];
	return {
		...second,
		row: {
			...first.row,
			n: events.length,
			runStatus: second.row.runStatus ?? first.row.runStatus,
			runOutput: second.row.runOutput,
			parentStep: second.row.parentStep
		},
		changes: [...changes.values()],
		events,
		claimed: [...first.claimed.filter((claimed) => claimed.id !== stepId), ...second.claimed],
		wake: first.wake || second.wake
	};
}

/**
 * Writes planned commits of different runs in one autocommitted statement. A commit applies only if
 * its run is active, still at the planned sequence number (nothing changed since the snapshot) and
 * the step's lease is ours; the others change nothing. Returns the committed events by run.
 */
export async function writeCommits(
	db: Db,
	plans: PlannedCommit[],
	claim: { workerId: string; leaseMs: number }
): Promise<Map<string, RunEventMessage[]>> {
	const wake = plans.some((plan) => plan.wake);
	// Changes and events go flat, not nested per commit: a set returning function is estimated at
	// 100 rows, and 100 × 100 would make the planner scan run_steps instead of probing its key.
	const changes = plans.flatMap(({ runId, changes }) =>
		changes.map((change) => ({ runId, ...change }))
	);
	const events = plans.flatMap(({ runId, workspaceId, events }) =>
		events.map((event) => ({
			runId,
			workspaceId,
			seq: event.seq,
			type: event.type,
			stepId: event.stepId ?? null,
			nodeId: event.nodeId ?? null,
			data: event.data ?? {}
		}))
	);
	const result = await db.execute(sql`
		with c as (
			select * from jsonb_to_recordset(${JSON.stringify(plans.map((plan) => plan.row))}::jsonb) as c(
				"runId" uuid, seq int, n int, "stepId" uuid, epoch int, input jsonb,
				output jsonb, branch text, "runStatus" text, "runOutput" jsonb, "parentStep" uuid)
		),
		-- Locked by primary key in id order; the values are the latest, read after any wait for a lock.
		locked as (
			select r.id, r.event_seq, r.status from runs r
			where r.id = any(array(select c."runId" from c))
			order by r.id
			for update
		),
		-- A run whose sequence number moved on since the snapshot is left alone.
		fenced as (
			update run_steps s set status = 'succeeded', output = c.output, branch = c.branch, error = null,
				due_at = null, finished_at = clock_timestamp(), input = c.input, leased_by = null
			from c join locked on locked.id = c."runId"
			where s.id = c."stepId" and locked.event_seq = c.seq
				and locked.status in (${activeRunStatusList})
				and s.lease_epoch = c.epoch and s.status = 'running'
			returning s.run_id
		),
		-- A succeeded change is a step claimed and executed within this commit.
		changed as (
			update run_steps s set
				status = x.status::step_status,
				due_at = case x.status
					when 'ready' then clock_timestamp()
					when 'running' then clock_timestamp() + make_interval(secs => ${claim.leaseMs / 1000})
				end,
				finished_at = case when x.status in ('skipped', 'succeeded') then clock_timestamp() end,
				started_at = case when x.status in ('running', 'succeeded') then clock_timestamp() end,
				attempt = s.attempt + case when x.status in ('running', 'succeeded') then 1 else 0 end,
				lease_epoch = s.lease_epoch + case when x.status in ('running', 'succeeded') then 1 else 0 end,
				leased_by = case when x.status = 'running' then ${claim.workerId} end,
				input = case when x.status = 'succeeded' then x.input else s.input end,
				output = case when x.status = 'succeeded' then x.output else s.output end,
				branch = case when x.status = 'succeeded' then x.branch else s.branch end
			from jsonb_to_recordset(${JSON.stringify(changes)}::jsonb)
				as x("runId" uuid, id uuid, status text, input jsonb, output jsonb, branch text)
			where s.id = x.id and x."runId" in (select run_id from fenced)
			returning s.id
		),
		bumped as (
			update runs r set
				event_seq = r.event_seq + c.n,
				status = coalesce(c."runStatus"::run_status, r.status),
				output = case when c."runStatus" = 'succeeded' then c."runOutput" else r.output end,
				finished_at = case when c."runStatus" = 'succeeded' then clock_timestamp() else r.finished_at end
			from c
			where r.id = c."runId" and r.id in (select run_id from fenced)
			returning r.id
		),
		parents as (
			update run_steps p set due_at = clock_timestamp()
			from c
			where p.id = c."parentStep" and p.status = 'waiting' and c."runId" in (select run_id from fenced)
			returning p.id
		),
		inserted as (
			insert into run_events (run_id, seq, workspace_id, type, step_id, node_id, data, at)
			select e."runId", e.seq, e."workspaceId", e.type, e."stepId", e."nodeId", e.data, clock_timestamp()
			from jsonb_to_recordset(${JSON.stringify(events)}::jsonb)
				as e("runId" uuid, "workspaceId" uuid, seq int, type text, "stepId" uuid, "nodeId" text, data jsonb)
			where e."runId" in (select run_id from fenced)
			returning run_id, seq, at
		)
		select run_id, seq, at, case when ${wake} then pg_notify(${stepsChannel}, '') end as notified
		from inserted
	`);
	const committed = new Map<string, Map<number, string>>();
	for (const row of rows<{ run_id: string; seq: number; at: Date | string }>(result)) {
		let times = committed.get(row.run_id);
		if (!times) committed.set(row.run_id, (times = new Map()));
		times.set(Number(row.seq), new Date(row.at).toISOString());
	}
	const written = new Map<string, RunEventMessage[]>();
	for (const plan of plans) {
		const times = committed.get(plan.runId);
		if (!times) continue;
		written.set(
			plan.runId,
			plan.events.map((event) => ({
				runId: plan.runId,
				workspaceId: plan.workspaceId,
				seq: event.seq,
				type: event.type,
				stepId: event.stepId ?? null,
				nodeId: event.nodeId ?? null,
				data: event.data ?? {},
				at: times.get(event.seq) ?? new Date().toISOString()
			}))
		);
	}
	return written;
}
