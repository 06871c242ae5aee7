import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import * as audit from '../db/audit.ts';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import { stepsChannel } from '../db/run-queue.ts';
import * as runs from '../db/runs.ts';
import type { NewAuditEntry, Run } from '../db/schema/index.ts';
import type { RunEventMessage } from '../channels.ts';
import { EventLog, createRunRows, initialSteps, type NewRun } from './transitions.ts';

// Run creation group-committed, as fast-commit.ts does for step commits: the runs started within one
// turn of the event loop (webhook calls at a high rate) are written by one autocommitted statement —
// runs, steps, their run.queued events and audit entries — instead of a transaction each. A run is
// committed before its caller hears of it, and the caller gets the run's row from the statement
// itself, without reading it again. When the statement fails, each run of the batch is created again
// on its own, in a transaction, so one bad run fails alone (with its own error) and the others are
// still created.

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

async function writeBatch(db: Db, batch: Pending[]): Promise<void> {
	// A batch of one takes the same single statement: one round trip instead of a transaction's five.
	let written: StartedRun[];
	try {
		written = await insertRuns(db, batch);
	} catch {
		// One run the database refuses must not take the others with it: each is tried alone.
		await Promise.all(
			batch.map((pending) => createAlone(db, pending).then(pending.resolve, pending.reject))
		);
		return;
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

async function insertRuns(db: Db, batch: Pending[]) {
	const planned = batch.map(({ id, run, entry }) => ({
		id,
		workspaceId: run.workspaceId,
		workflowId: run.workflowId,
		versionId: run.versionId,
		input: run.input ?? null,
		trigger: run.trigger,
		triggerId: run.triggerId ?? null,
		createdBy: run.createdBy,
		timeoutSecs: run.definition.timeoutMs === undefined ? null : run.definition.timeoutMs / 1000,
		steps: initialSteps(run),
		audit: {
			action: entry.action,
			actorUserId: entry.actorUserId ?? null,
			ip: entry.ip ?? null,
			userAgent: entry.userAgent ?? null,
			details: entry.details ?? {}
		}
	}));
	// Runs are inserted with ids made here, so each caller's run is known without matching rows up.
	const result = await db.execute(sql`
		with r as (
			select * from jsonb_to_recordset(${JSON.stringify(planned)}::jsonb) as r(
				id uuid, "workspaceId" uuid, "workflowId" uuid, "versionId" uuid, input jsonb, trigger text,
				"triggerId" uuid, "createdBy" uuid, "timeoutSecs" float8, steps jsonb, audit jsonb)
		),
		made as (
			insert into runs (id, workspace_id, workflow_id, version_id, input, trigger, trigger_id,
				created_by, deadline_at, event_seq)
			select r.id, r."workspaceId", r."workflowId", r."versionId", r.input, r.trigger,
				r."triggerId", r."createdBy",
				case when r."timeoutSecs" is not null
					then clock_timestamp() + make_interval(secs => r."timeoutSecs") end,
				1
			from r
			returning *
		),
		steps as (
			insert into run_steps (run_id, workspace_id, node_id, kind, status, input, output, branch,
				reused, due_at, finished_at)
			select r.id, r."workspaceId", s."nodeId", s.kind, s.status::step_status, s.input, s.output,
				s.branch, s.reused, case when s.status = 'ready' then clock_timestamp() end, null
			from r, jsonb_to_recordset(r.steps)
				as s("nodeId" text, kind text, status text, input jsonb, output jsonb, branch text, reused boolean)
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
		queued as (
			insert into run_events (run_id, seq, workspace_id, type, step_id, node_id, data, at)
			select r.id, 1, r."workspaceId", 'run.queued', null, null,
				jsonb_build_object('trigger', r.trigger), clock_timestamp()
			from r
			where r.id in (select id from made)
			returning run_id, at
		)
		select made.*, queued.at as queued_at, pg_notify(${stepsChannel}, '') as notified
		from made join queued on queued.run_id = made.id
	`);
	const made = new Map(
		rows<Record<string, unknown> & { id: string; queued_at: Date | string }>(result).map((row) => [
			row.id,
			row
		])
	);
	return planned.map((run): StartedRun => {
		const row = made.get(run.id);
		if (row === undefined) throw new Error(`run ${run.id} was not created`);
		const event: RunEventMessage = {
			runId: run.id,
			workspaceId: run.workspaceId,
			seq: 1,
			type: 'run.queued',
			stepId: null,
			nodeId: null,
			data: { trigger: run.trigger },
			at: new Date(row.queued_at).toISOString()
		};
		return { run: runs.fromRow(row), events: [event] };
	});
}
