import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import * as audit from '../db/audit.ts';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import {
	finishedSteps,
	stepsChannel,
	type ClaimedStep,
	type RunSnapshot,
	type SnapshotStep
} from '../db/run-queue.ts';
import * as runs from '../db/runs.ts';
import type { NewAuditEntry, Run } from '../db/schema/index.ts';
import type { RunEventMessage } from '../channels.ts';
import { buildGraph, type WorkflowGraph } from './definition.ts';
import type { PlannedCommit } from './fast-commit.ts';
import {
	EventLog,
	claimedOnCommit,
	createRunRows,
	decideSuccessors,
	initialSteps,
	settleDecision,
	startedEvent,
	type NewRun,
	type PendingEvent,
	type StepRow
} from './transitions.ts';

// Run creation group-committed, as fast-commit.ts does for step commits: the runs started within one
// turn of the event loop (webhook calls at a high rate) are written by one autocommitted statement —
// runs, steps, their events and audit entries — instead of a transaction each. A run is committed
// before its caller hears of it, and the caller gets the run's row from the statement itself,
// without reading it again. When the statement fails, each run of the batch is created again on its
// own, in a transaction, so one bad run fails alone (with its own error) and the others are still
// created.
//
// The input node does nothing but pass the run input on, so a run is created with its input step
// already succeeded and the steps after it ready, saving a claim and a commit per run. When this
// process has a worker with free slots, those steps are created claimed by it and handed to it
// directly (as a commit hands a worker the successors it claims), saving the wake-up and the claim:
// a run's first real step starts as soon as the run exists. A run whose start is not that simple
// (its input node is its last, or a successor would be skipped) is created with its input step
// ready, as before, and a worker takes it from there. The steps after the input node that are
// inline (pure and quick, see NodeKind) are executed before the statement, as a commit executes
// the inline steps it claims (fast-commit.ts): a run made only of them is created finished.

/**
 * A worker of this process that takes the first steps of runs created here. `reserve` holds up to
 * `wanted` of its slots and says how many it got; `adopt` hands it steps claimed for it (using
 * slots reserved before); `release` gives back reserved slots that went unused.
 */
export interface IntakeWorker {
	readonly id: string;
	readonly leaseMs: number;
	/** Whether it takes steps at all (a stopping worker takes none). */
	running(): boolean;
	reserve(wanted: number): number;
	/** Hands it `steps`, claimed for it; `slots` of them use slots reserved before. */
	adopt(snapshot: RunSnapshot, steps: ClaimedStep[], slots: number): void;
	release(slots: number): void;
	/** The nodes of `graph` whose steps it executes inline (see NodeKind): they need no slot. */
	inlineNodes(graph: WorkflowGraph): (nodeId: string) => boolean;
	/**
	 * Executes `step`, claimed for it and inline, then the inline steps that makes due, and plans
	 * what recording them changes, claiming up to `slots` other successors: null when `step` does
	 * not simply succeed.
	 */
	executeInline(
		graph: WorkflowGraph,
		snapshot: RunSnapshot,
		step: ClaimedStep,
		slots: number
	): Promise<PlannedCommit | null>;
}

const intakeWorkers = new WeakMap<Db, Set<IntakeWorker>>();

/** Offers `worker` the first steps of runs created on `db` in this process; returns the withdrawal. */
export function offerRunsTo(db: Db, worker: IntakeWorker): () => void {
	let workers = intakeWorkers.get(db);
	if (workers === undefined) intakeWorkers.set(db, (workers = new Set()));
	workers.add(worker);
	return () => {
		workers.delete(worker);
	};
}

// Definitions come from the runnable-version cache, one object per version: their graphs are
// built once.
const graphs = new WeakMap<NewRun['definition'], WorkflowGraph>();

function graphOf(definition: NewRun['definition']): WorkflowGraph {
	let graph = graphs.get(definition);
	if (graph === undefined) graphs.set(definition, (graph = buildGraph(definition)));
	return graph;
}

/** A new run's rows and events as the intake statement writes them. */
interface StartPlan {
	status: 'queued' | 'running' | 'waiting' | 'succeeded';
	/** The run's output, when it was created finished (see executeInline). */
	output?: unknown;
	/** The lease of the steps created claimed. */
	leaseMs: number;
	steps: (ReturnType<typeof initialSteps>[number] & {
		id: string;
		attempt: number;
		leaseEpoch: number;
		leasedBy: string | null;
	})[];
	events: (PendingEvent & { seq: number })[];
	/** Steps created claimed by the intake worker, with the run as they leave it. */
	claimed: { snapshot: RunSnapshot; steps: ClaimedStep[] } | null;
	/** Ready steps are left for any worker. */
	wake: boolean;
}

/** A node step claimed as the run is created: its first attempt, under the first lease. */
function claimedRow(step: { id: string; nodeId: string; kind: string }) {
	return {
		id: step.id,
		node_id: step.nodeId,
		kind: step.kind,
		attempt: 1,
		iteration: -1,
		path: '',
		lease_epoch: 1
	};
}

/**
 * How a fresh run starts: its input step succeeded and its successors ready, up to `claimLimit` of
 * them claimed by `worker`; or, when that is not simple, its input step ready.
 */
function planStart(
	id: string,
	run: NewRun,
	worker: IntakeWorker | null,
	claimLimit: number
): StartPlan {
	const graph = graphOf(run.definition);
	const steps = initialSteps(run).map((step) => ({
		...step,
		id: randomUUID(),
		attempt: 0,
		leaseEpoch: 0,
		leasedBy: null as string | null
	}));
	const queued = { seq: 1, type: 'run.queued', data: { trigger: run.trigger } };
	const leaseMs = worker?.leaseMs ?? 0;
	const plain: StartPlan = {
		status: 'queued',
		leaseMs,
		steps,
		events: [queued],
		claimed: null,
		wake: true
	};
	const input = steps.find((step) => step.nodeId === graph.inputNodeId);
	if (input === undefined) return plain;
	const rows = new Map<string, StepRow>(
		steps.map((step) => [
			step.nodeId,
			{
				id: step.id,
				node_id: step.nodeId,
				iteration: -1,
				path: '',
				status: 'pending',
				branch: null
			}
		])
	);
	const inputRow = rows.get(input.nodeId) as StepRow;
	inputRow.status = 'succeeded';
	const decisions = decideSuccessors(
		graph,
		input.nodeId,
		rows,
		worker === null ? 0 : claimLimit,
		worker?.inlineNodes(graph)
	);
	if (decisions.skipped.length > 0 || settleDecision([...rows.values()]) === 'finished')
		return plain;
	const byId = new Map<string, StartPlan['steps'][number]>(steps.map((step) => [step.id, step]));
	input.status = 'succeeded';
	input.output = input.input;
	input.attempt = 1;
	const events: StartPlan['events'] = [
		queued,
		{
			seq: 2,
			type: 'step.succeeded',
			stepId: input.id,
			nodeId: input.nodeId,
			data: { branch: null }
		}
	];
	const claimedRows: StartPlan['steps'] = [];
	for (const change of decisions.changes) {
		const step = byId.get(change.id) as StartPlan['steps'][number];
		step.status = change.status;
		if (change.status !== 'running') continue;
		step.attempt = 1;
		step.leaseEpoch = 1;
		step.leasedBy = worker?.id ?? null;
		claimedRows.push(step);
		events.push({ ...startedEvent(claimedRow(step)), seq: events.length + 1 });
	}
	if (claimedRows.length === 0)
		return { status: 'queued', leaseMs, steps, events, claimed: null, wake: true };
	const snapshotSteps: SnapshotStep[] = steps.map((step) => ({
		id: step.id,
		node_id: step.nodeId,
		iteration: -1,
		path: '',
		status: step.status,
		branch: null,
		attempt: step.attempt,
		lease_epoch: step.leaseEpoch,
		...(step.status === 'succeeded' ? { output: step.output } : {})
	}));
	const snapshotRun: RunSnapshot['run'] = {
		id,
		workspace_id: run.workspaceId,
		workflow_id: run.workflowId,
		version_id: run.versionId,
		status: 'running',
		input: run.input ?? null,
		parent_step_id: null,
		parent_run_id: null
	};
	const finished = finishedSteps(snapshotSteps);
	return {
		status: 'running',
		leaseMs,
		steps,
		events,
		claimed: {
			snapshot: { run: snapshotRun, seq: events.length, steps: snapshotSteps },
			steps: claimedRows.map((step) => claimedOnCommit(snapshotRun, claimedRow(step), finished))
		},
		wake: decisions.wake
	};
}

/** Most runs one statement creates; more wait for the next. */
export const intakeBatchSize = 100;

/** A run just created, as stored, and the events to publish for it. */
export interface StartedRun {
	run: Run;
	events: RunEventMessage[];
}

interface Pending {
	id: string;
	run: NewRun;
	entry: Omit<NewAuditEntry, 'targetId' | 'targetType'>;
	resolve(started: StartedRun): void;
	reject(error: unknown): void;
}

const queues = new WeakMap<Db, Pending[]>();

/**
 * Creates a run (queued, its input node ready) and its audit entry (target: the run), batched with
 * the runs other callers start at the same time. For runs without an idempotency key. `id` lets a
 * caller listen for the run's events before it exists; a run the shared statement could not write,
 * created again alone, gets another id (the one in the answer counts).
 */
export function startRunBatched(
	db: Db,
	run: NewRun,
	entry: Pending['entry'],
	id: string = randomUUID()
): Promise<StartedRun> {
	return new Promise((resolve, reject) => {
		let queue = queues.get(db);
		if (queue === undefined) {
			queues.set(db, (queue = []));
			setImmediate(() => {
				queues.delete(db);
				void writeBatches(db, queue ?? []);
			});
		}
		queue.push({ id, run, entry, resolve, reject });
	});
}

async function writeBatches(db: Db, queue: Pending[]): Promise<void> {
	const batches: Pending[][] = [];
	for (let start = 0; start < queue.length; start += intakeBatchSize)
		batches.push(queue.slice(start, start + intakeBatchSize));
	await Promise.all(batches.map((batch) => writeBatch(db, batch)));
}

/**
 * The worker of this process that takes a run's first steps: one with free slots if there is one
 * (it gets up to `wanted` of them), else any that runs (for inline steps, which need none).
 */
function reserveFor(db: Db, wanted: number): { worker: IntakeWorker; granted: number } | null {
	let idle: IntakeWorker | null = null;
	for (const worker of intakeWorkers.get(db) ?? []) {
		if (!worker.running()) continue;
		const granted = wanted === 0 ? 0 : worker.reserve(wanted);
		if (granted > 0) return { worker, granted };
		idle ??= worker;
	}
	return idle === null ? null : { worker: idle, granted: 0 };
}

/** A run's start planned, and the worker (and how many of its reserved slots) it hands steps to. */
interface PlannedStart {
	plan: StartPlan;
	worker: IntakeWorker | null;
	slots: number;
}

async function planRun(db: Db, pending: Pending): Promise<PlannedStart> {
	const graph = graphOf(pending.run.definition);
	const reserved = reserveFor(db, graph.outgoing.get(graph.inputNodeId)?.length ?? 0);
	if (reserved === null)
		return { plan: planStart(pending.id, pending.run, null, 0), worker: null, slots: 0 };
	const { worker, granted } = reserved;
	let plan;
	try {
		plan = planStart(pending.id, pending.run, worker, granted);
	} catch (error) {
		worker.release(granted);
		throw error;
	}
	try {
		plan = await executeInline(plan, worker, graph, granted);
	} catch {
		// Executed again by the worker, as any claimed step.
	}
	const slots = Math.min(granted, plan.claimed?.steps.length ?? 0);
	if (granted > slots) worker.release(granted - slots);
	return { plan, worker, slots };
}

/**
 * The first inline step claimed for `worker` executed at once, with the inline steps after it (as a
 * commit does, see fast-commit.ts): a run of pure steps, such as transform → output, is created
 * finished.
 */
async function executeInline(
	plan: StartPlan,
	worker: IntakeWorker,
	graph: WorkflowGraph,
	granted: number
): Promise<StartPlan> {
	if (plan.claimed === null) return plan;
	const inline = worker.inlineNodes(graph);
	const step = plan.claimed.steps.find((claimed) => inline(claimed.nodeId));
	if (step === undefined) return plan;
	const others = plan.claimed.steps.filter((claimed) => claimed !== step);
	const taken = others.filter((claimed) => !inline(claimed.nodeId)).length;
	const commit = await worker.executeInline(
		graph,
		plan.claimed.snapshot,
		step,
		Math.max(0, granted - taken)
	);
	if (commit === null) return plan;
	const byId = new Map(plan.steps.map((row) => [row.id, { ...row }]));
	const executed = (
		row: StartPlan['steps'][number] | undefined,
		change: { input: unknown; output: unknown; branch: string | null }
	) => {
		if (row === undefined) return;
		row.status = 'succeeded';
		row.input = change.input as typeof row.input;
		row.output = change.output as typeof row.output;
		row.branch = change.branch;
		row.leasedBy = null;
	};
	const { row } = commit;
	executed(byId.get(step.id), {
		input: row.input,
		output: row.output,
		branch: (row.branch as string | null) ?? null
	});
	for (const change of commit.changes) {
		const target = byId.get(change.id);
		if (target === undefined) continue;
		if (change.status === 'skipped' || change.status === 'ready') {
			target.status = change.status;
			continue;
		}
		target.attempt += 1;
		target.leaseEpoch += 1;
		if (change.status === 'succeeded') executed(target, change);
		else {
			target.status = 'running';
			target.leasedBy = worker.id;
		}
	}
	const status = row.runStatus as StartPlan['status'] | null;
	return {
		...plan,
		status: status ?? plan.status,
		output: status === 'succeeded' ? row.runOutput : null,
		steps: [...byId.values()],
		events: [...plan.events, ...commit.events],
		claimed:
			commit.next === null
				? null
				: { snapshot: commit.next, steps: [...others, ...commit.claimed] },
		wake: plan.wake || commit.wake
	};
}

async function writeBatch(db: Db, batch: Pending[]): Promise<void> {
	// Slots are held before the statement, so the worker cannot fill them meanwhile.
	const planned = await Promise.allSettled(batch.map((pending) => planRun(db, pending)));
	const plans = planned.flatMap((outcome) =>
		outcome.status === 'fulfilled' ? [outcome.value] : []
	);
	if (plans.length < batch.length) {
		// Not expected (planning reads nothing); were it to happen, each run is created alone.
		for (const { worker, slots } of plans) worker?.release(slots);
		await Promise.all(
			batch.map((pending) => createAlone(db, pending).then(pending.resolve, pending.reject))
		);
		return;
	}
	// A batch of one takes the same single statement: one round trip instead of a transaction's five.
	let written: StartedRun[];
	try {
		written = await insertRuns(
			db,
			batch,
			plans.map(({ plan }) => plan)
		);
	} catch {
		for (const { worker, slots } of plans) worker?.release(slots);
		// One run the database refuses must not take the others with it: each is tried alone.
		await Promise.all(
			batch.map((pending) => createAlone(db, pending).then(pending.resolve, pending.reject))
		);
		return;
	}
	for (const { plan, worker, slots } of plans) {
		if (plan.claimed !== null) worker?.adopt(plan.claimed.snapshot, plan.claimed.steps, slots);
	}
	batch.forEach((pending, index) => pending.resolve(written[index] as (typeof written)[number]));
}

/** The transactional path: the run, its event and its audit entry in one transaction. */
async function createAlone(db: Db, { run, entry }: Pending) {
	return db.transaction(async (tx) => {
		const log = new EventLog();
		const runId = await createRunRows(tx, run, log);
		await audit.append(tx, { ...entry, targetType: 'run', targetId: runId });
		const events = await log.write(tx);
		const created = await runs.get(tx, run.workspaceId, runId);
		if (created === null) throw new Error(`run ${runId} was not created`);
		return { run: created, events };
	});
}

async function insertRuns(db: Db, batch: Pending[], plans: StartPlan[]) {
	const planned = batch.map(({ id, run, entry }, index) => {
		const plan = plans[index] as StartPlan;
		return {
			id,
			workspaceId: run.workspaceId,
			workflowId: run.workflowId,
			versionId: run.versionId,
			input: run.input ?? null,
			trigger: run.trigger,
			triggerId: run.triggerId ?? null,
			createdBy: run.createdBy,
			timeoutSecs: run.definition.timeoutMs === undefined ? null : run.definition.timeoutMs / 1000,
			status: plan.status,
			output: plan.output ?? null,
			leaseSecs: plan.leaseMs / 1000,
			steps: plan.steps,
			events: plan.events.map((event) => ({
				seq: event.seq,
				type: event.type,
				stepId: event.stepId ?? null,
				nodeId: event.nodeId ?? null,
				data: event.data ?? {}
			})),
			audit: {
				action: entry.action,
				actorUserId: entry.actorUserId ?? null,
				ip: entry.ip ?? null,
				userAgent: entry.userAgent ?? null,
				details: entry.details ?? {}
			}
		};
	});
	const wake = plans.some((plan) => plan.wake);
	// Runs and steps are inserted with ids made here, so each caller's run is known without matching
	// rows up, and steps handed to a worker are known before they exist.
	const result = await db.execute(sql`
		with r as (
			select * from jsonb_to_recordset(${JSON.stringify(planned)}::jsonb) as r(
				id uuid, "workspaceId" uuid, "workflowId" uuid, "versionId" uuid, input jsonb, trigger text,
				"triggerId" uuid, "createdBy" uuid, "timeoutSecs" float8, status text, output jsonb, "leaseSecs" float8,
				steps jsonb, events jsonb, audit jsonb)
		),
		made as (
			insert into runs (id, workspace_id, workflow_id, version_id, input, trigger, trigger_id,
				created_by, status, output, started_at, finished_at, deadline_at, event_seq)
			select r.id, r."workspaceId", r."workflowId", r."versionId", r.input, r.trigger,
				r."triggerId", r."createdBy", r.status::run_status, r.output,
				case when r.status <> 'queued' then clock_timestamp() end,
				case when r.status = 'succeeded' then clock_timestamp() end,
				case when r."timeoutSecs" is not null
					then clock_timestamp() + make_interval(secs => r."timeoutSecs") end,
				jsonb_array_length(r.events)
			from r
			returning *
		),
		steps as (
			insert into run_steps (id, run_id, workspace_id, node_id, kind, status, input, output, branch,
				reused, attempt, lease_epoch, leased_by, due_at, started_at, finished_at)
			select s.id, r.id, r."workspaceId", s."nodeId", s.kind, s.status::step_status, s.input,
				s.output, s.branch, s.reused, s.attempt, s."leaseEpoch", s."leasedBy",
				case s.status
					when 'ready' then clock_timestamp()
					when 'running' then clock_timestamp() + make_interval(secs => r."leaseSecs")
				end,
				case when s.status in ('running', 'succeeded') then clock_timestamp() end,
				case when s.status in ('succeeded', 'skipped') then clock_timestamp() end
			from r, jsonb_to_recordset(r.steps) as s(id uuid, "nodeId" text, kind text, status text,
				input jsonb, output jsonb, branch text, reused boolean, attempt int, "leaseEpoch" int,
				"leasedBy" text)
			where r.id in (select id from made)
		),
		audited as (
			insert into audit_log (action, actor_user_id, workspace_id, target_type, target_id, ip,
				user_agent, details)
			select r.audit->>'action', (r.audit->>'actorUserId')::uuid, r."workspaceId", 'run', r.id::text,
				r.audit->>'ip', r.audit->>'userAgent', r.audit->'details'
			from r
			where r.id in (select id from made)
		),
		logged as (
			insert into run_events (run_id, seq, workspace_id, type, step_id, node_id, data, at)
			select r.id, e.seq, r."workspaceId", e.type, e."stepId", e."nodeId", e.data, clock_timestamp()
			from r, jsonb_to_recordset(r.events)
				as e(seq int, type text, "stepId" uuid, "nodeId" text, data jsonb)
			where r.id in (select id from made)
			returning run_id, seq, at
		)
		select made.*, logged.at as queued_at,
			case when ${wake} then pg_notify(${stepsChannel}, '') end as notified
		from made join logged on logged.run_id = made.id and logged.seq = 1
	`);
	const made = new Map(
		rows<Record<string, unknown> & { id: string; queued_at: Date | string }>(result).map((row) => [
			row.id,
			row
		])
	);
	return planned.map((run, index): StartedRun => {
		const row = made.get(run.id);
		if (row === undefined) throw new Error(`run ${run.id} was not created`);
		const at = new Date(row.queued_at).toISOString();
		const events = (plans[index] as StartPlan).events.map((event): RunEventMessage => ({
			runId: run.id,
			workspaceId: run.workspaceId,
			seq: event.seq,
			type: event.type,
			stepId: event.stepId ?? null,
			nodeId: event.nodeId ?? null,
			data: event.data ?? {},
			at
		}));
		return { run: runs.fromRow(row), events };
	});
}
