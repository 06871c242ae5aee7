import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import type { ClaimedStep, FinishedStep } from '../db/run-queue.ts';
import type { RunError } from '../db/schema/index.ts';
import type { ClaimOnCommit, EventLog, RunRow } from './transitions.ts';

// A commit that makes child work due — a parent's new children, or the parent its last child woke —
// claims that work for the committing worker in the same transaction, as a node step's commit
// claims its successors: no NOTIFY, no claim query by another worker, no wait in between. What it
// cannot take (no free slot, a stopping worker) is left due and the workers are woken for it.

interface ClaimRow {
	id: string;
	node_id: string;
	iteration: number;
	path: string;
	kind: string;
	attempt: number;
	lease_epoch: number;
	input: unknown;
	state: Record<string, unknown> | null;
	error: RunError | null;
	claimed_from: 'ready' | 'waiting';
}

/**
 * Claims (up to `claim.limit`) the steps of `step`'s node and iteration at `paths` that are due:
 * ready children, or a woken (waiting, due) parent. Returns the steps claimed; sets `log.wake` when
 * some are left for other workers.
 */
export async function claimChildWork(
	tx: Db,
	run: RunRow,
	step: Pick<ClaimedStep, 'nodeId' | 'iteration'>,
	paths: string[],
	claim: ClaimOnCommit | null,
	finished: FinishedStep[] | undefined,
	log: EventLog
): Promise<ClaimedStep[]> {
	if (paths.length === 0) return [];
	const limit = Math.min(claim?.limit ?? 0, paths.length);
	if (claim === null || limit === 0) {
		log.wake = true;
		return [];
	}
	const result = await tx.execute(sql`
		with picked as (
			select id, status from run_steps
			where run_id = ${run.id} and node_id = ${step.nodeId} and iteration = ${step.iteration}
				and path in (select jsonb_array_elements_text(${JSON.stringify(paths)}::jsonb))
				and (status = 'ready' or (status = 'waiting' and due_at <= clock_timestamp()))
			order by path
			limit ${limit}
		)
		update run_steps s set
			status = 'running',
			attempt = s.attempt + case when picked.status = 'waiting' then 0 else 1 end,
			lease_epoch = s.lease_epoch + 1,
			leased_by = ${claim.workerId},
			due_at = clock_timestamp() + make_interval(secs => ${claim.leaseMs / 1000}),
			started_at = coalesce(s.started_at, clock_timestamp())
		from picked where s.id = picked.id
		returning s.id, s.node_id, s.iteration, s.path, s.kind, s.attempt, s.lease_epoch, s.input, s.state,
			s.error, picked.status as claimed_from
	`);
	const claimed = rows<ClaimRow>(result);
	if (claimed.length < paths.length) log.wake = true;
	return claimed.map((row) => {
		log.add(run.id, run.workspace_id, {
			type: 'step.started',
			stepId: row.id,
			nodeId: row.node_id,
			data: {
				attempt: row.attempt,
				iteration: row.iteration,
				resumed: row.claimed_from === 'waiting',
				recovered: false,
				...(row.path !== '' && { path: row.path, kind: row.kind })
			}
		});
		return {
			id: row.id,
			runId: run.id,
			workspaceId: run.workspace_id,
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
			runInput: run.input,
			versionId: run.version_id,
			workflowId: run.workflow_id,
			finished
		};
	});
}
