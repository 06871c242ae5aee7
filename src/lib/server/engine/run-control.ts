import { activeRunStatusList } from '../db/schema/runs.ts';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import type { StepStatus } from '../../schemas/workflow.ts';
import { buildGraph, descendantsOf } from './definition.ts';
import {
	EventLog,
	createRunRows,
	finishRun,
	lockRun,
	propagate,
	settleRun,
	type NewRun
} from './transitions.ts';
import { isActiveRun } from '../../schemas/run-status.ts';
import type { RunEventMessage } from '../channels.ts';

export const idempotencyWindowHours = 24;

/** The same key with a different request body: the caller must not get someone else's run. */
export class IdempotencyMismatchError extends Error {
	override name = 'IdempotencyMismatchError';
}

class KeyTakenError extends Error {}

/**
 * Creates a run (queued, its input node ready) in one transaction. With an idempotency key, a
 * second request within 24 hours returns the first run, also when both arrive at once: the
 * loser's insert waits for the winner's commit, conflicts, and rolls back its own run.
 */
export async function startRun(
	db: Db,
	run: NewRun,
	idempotency?: { key: string; requestHash: string }
): Promise<{ runId: string; created: boolean; events: RunEventMessage[] }> {
	for (let attempt = 0; ; attempt += 1) {
		if (idempotency) {
			const existing = await findRequest(db, run.workspaceId, idempotency);
			if (existing !== null) return { runId: existing, created: false, events: [] };
		}
		try {
			return await db.transaction(async (tx) => {
				const log = new EventLog();
				const runId = await createRunRows(tx, run, log);
				if (idempotency) {
					await tx.execute(sql`
						delete from run_requests where workspace_id = ${run.workspaceId} and key = ${idempotency.key}
							and created_at < now() - make_interval(hours => ${idempotencyWindowHours})
					`);
					const inserted = await tx.execute(sql`
						insert into run_requests (workspace_id, key, run_id, request_hash)
						values (${run.workspaceId}, ${idempotency.key}, ${runId}, ${idempotency.requestHash})
						on conflict do nothing returning run_id
					`);
					if (rows(inserted).length === 0) throw new KeyTakenError();
				}
				return { runId, created: true, events: await log.write(tx) };
			});
		} catch (error) {
			if (!(error instanceof KeyTakenError) || attempt >= 2) throw error;
		}
	}
}

async function findRequest(
	db: Db,
	workspaceId: string,
	idempotency: { key: string; requestHash: string }
): Promise<string | null> {
	const result = await db.execute(sql`
		select run_id, request_hash from run_requests
		where workspace_id = ${workspaceId} and key = ${idempotency.key}
			and created_at >= now() - make_interval(hours => ${idempotencyWindowHours})
	`);
	const row = rows<{ run_id: string; request_hash: string }>(result)[0];
	if (!row) return null;
	if (row.request_hash !== idempotency.requestHash) {
		throw new IdempotencyMismatchError('This Idempotency-Key was used with a different request.');
	}
	return row.run_id;
}

/** Cancels an active run and everything under it; false when it had already finished. */
export async function cancelRun(
	db: Db,
	runId: string,
	reason: { code: string; message: string }
): Promise<{ cancelled: boolean; events: RunEventMessage[] }> {
	return db.transaction(async (tx) => {
		const run = await lockRun(tx, runId);
		if (!run || !isActiveRun(run.status)) return { cancelled: false, events: [] };
		const log = new EventLog();
		await finishRun(tx, run, 'cancelled', reason, log);
		return { cancelled: true, events: await log.write(tx) };
	});
}

/** Fails runs past their deadline; each worker's maintenance tick calls it, SKIP LOCKED shares the work. */
export async function failOverdueRuns(db: Db): Promise<RunEventMessage[]> {
	return db.transaction(async (tx) => {
		const due = await tx.execute(sql`
			select id from runs where deadline_at <= clock_timestamp() and status in (${activeRunStatusList})
			order by deadline_at limit 20 for update skip locked
		`);
		const log = new EventLog();
		for (const { id } of rows<{ id: string }>(due)) {
			const run = await lockRun(tx, id);
			if (run && isActiveRun(run.status)) {
				await finishRun(
					tx,
					run,
					'failed',
					{ code: 'run_timeout', message: 'The run exceeded its time limit.' },
					log
				);
			}
		}
		return log.write(tx);
	});
}

/** Records a decision on a pending approval and wakes the step waiting for it. */
export async function decideApproval(
	db: Db,
	approvalId: string,
	decision: { approved: boolean; comment: string; userId: string }
): Promise<{ decided: boolean; events: RunEventMessage[] }> {
	return db.transaction(async (tx) => {
		const updated = await tx.execute(sql`
			update approvals set status = ${decision.approved ? 'approved' : 'rejected'}, comment = ${decision.comment},
				decided_by = ${decision.userId}, decided_at = clock_timestamp()
			where id = ${approvalId} and status = 'pending'
			returning run_id, step_id, node_id, workspace_id
		`);
		const row = rows<{ run_id: string; step_id: string; node_id: string; workspace_id: string }>(
			updated
		)[0];
		if (!row) return { decided: false, events: [] };
		await tx.execute(sql`
			update run_steps set due_at = clock_timestamp() where id = ${row.step_id} and status = 'waiting'
		`);
		const log = new EventLog();
		log.wake = true;
		log.add(row.run_id, row.workspace_id, {
			type: 'approval.decided',
			stepId: row.step_id,
			nodeId: row.node_id,
			data: { approved: decision.approved, decidedBy: decision.userId }
		});
		return { decided: true, events: await log.write(tx) };
	});
}

interface PastStep {
	node_id: string;
	status: StepStatus;
	input: unknown;
	output: unknown;
	branch: string | null;
}

/**
 * Starts a new run of the same version that reuses recorded outputs instead of executing again:
 * from a step, everything not downstream of it (the step itself gets `input`, when given); for a
 * retry, every step that succeeded. Reused steps are marked, never re-executed.
 */
export async function rerunRun(
	db: Db,
	source: { runId: string; fromNodeId: string | null; input?: unknown; createdBy: string | null }
): Promise<{ runId: string; events: RunEventMessage[] }> {
	return db.transaction(async (tx) => {
		const found = await tx.execute(sql`
			select r.workspace_id, r.workflow_id, r.version_id, r.input, v.definition
			from runs r join workflow_versions v on v.id = r.version_id where r.id = ${source.runId}
		`);
		const old = rows<{
			workspace_id: string;
			workflow_id: string;
			version_id: string;
			input: unknown;
			definition: NewRun['definition'];
		}>(found)[0];
		if (!old) throw new Error('run not found');
		const graph = buildGraph(old.definition);
		const past = await tx.execute(sql`
			select node_id, status, input, output, branch from run_steps where run_id = ${source.runId} and iteration = -1 and path = ''
		`);
		const redo =
			source.fromNodeId === null ? new Set<string>() : descendantsOf(graph, source.fromNodeId);
		if (source.fromNodeId !== null) redo.add(source.fromNodeId);
		const prepared = new Map<
			string,
			{
				status: StepStatus;
				input?: unknown;
				output?: unknown;
				branch?: string | null;
				reused?: boolean;
			}
		>();
		const pastSteps = rows<PastStep>(past);
		for (const step of pastSteps) {
			if (redo.has(step.node_id)) continue;
			if (step.status === 'succeeded' || step.status === 'skipped') {
				prepared.set(step.node_id, {
					status: step.status,
					input: step.input,
					output: step.output,
					branch: step.branch,
					reused: true
				});
			}
		}
		const fromNode = source.fromNodeId;
		if (fromNode !== null && source.input !== undefined) {
			prepared.set(fromNode, { status: 'ready', input: source.input });
		} else if (fromNode !== null) {
			const recorded = pastSteps.find((step) => step.node_id === fromNode);
			if (recorded?.input != null)
				prepared.set(fromNode, { status: 'ready', input: recorded.input });
		}
		const log = new EventLog();
		const runId = await createRunRows(
			tx,
			{
				workspaceId: old.workspace_id,
				workflowId: old.workflow_id,
				versionId: old.version_id,
				definition: old.definition,
				input: old.input,
				trigger: 'rerun',
				rerunOf: source.runId,
				createdBy: source.createdBy
			},
			log,
			prepared
		);
		const run = await lockRun(tx, runId);
		if (!run) throw new Error('run vanished');
		const finished = [...prepared].filter(([, step]) => step.reused).map(([nodeId]) => nodeId);
		await propagate(tx, run, graph, finished, log);
		await settleRun(tx, run, graph, log);
		return { runId, events: await log.write(tx) };
	});
}
