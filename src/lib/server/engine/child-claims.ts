import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import type { ClaimedStep, FinishedStep } from '../db/run-queue.ts';
import type { RunError } from '../db/schema/index.ts';
import { childPath, parentPath } from './children.ts';
import type { ChildStepSpec } from './kinds/types.ts';
import type { ClaimOnCommit, EventLog, RunRow } from './transitions.ts';

// A commit that makes child work due — a parent's new children, or the parent its last child woke —
// claims that work for the committing worker in the statement that makes it due, as a node step's
// commit claims its successors: no NOTIFY, no claim query by another worker, no wait in between.
// What it cannot take (no free slot, a stopping worker) is left due and the workers are woken for it.

/** A step a commit claimed, as the statement that claimed it returns it. */
export interface ChildClaimRow {
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

const claimColumns = sql.raw(
	'id, node_id, iteration, path, kind, attempt, lease_epoch, input, state, error'
);

/** A row as the statements below return it: `claimColumns`, and whether it was claimed. */
type ReturnedRow = Omit<ChildClaimRow, 'claimed_from'> & { running: boolean };

/** Child work made due by a commit: how many steps it made due, and those it claimed. */
export interface ChildWork {
	due: number;
	claimed: ChildClaimRow[];
}

const leaseUntil = (claim: ClaimOnCommit) =>
	sql`clock_timestamp() + make_interval(secs => ${claim.leaseMs / 1000})`;

/**
 * Creates the children a parent asked for (idempotently) in the transaction that parks it. The
 * first `claim.limit` of them (by path) are created running, leased to the committing worker; the
 * rest ready, for any worker. Children that already exist are left as they are.
 */
export async function createChildren(
	tx: Db,
	run: { id: string; workspace_id: string },
	parent: Pick<ClaimedStep, 'nodeId' | 'iteration' | 'path'>,
	children: ChildStepSpec[],
	claim: ClaimOnCommit | null
): Promise<ChildWork> {
	if (children.length === 0) return { due: 0, claimed: [] };
	const specs = children.map((child) => ({
		path: childPath(parent.path, child.name),
		kind: child.kind,
		input: child.input ?? null
	}));
	const limit = Math.max(0, claim?.limit ?? 0);
	const taken = (then: SQL, otherwise: SQL) =>
		sql`case when c.n <= ${limit} then ${then} else ${otherwise} end`;
	const inserted = await tx.execute(sql`
		insert into run_steps (run_id, workspace_id, node_id, iteration, path, kind, status, input, due_at,
			attempt, lease_epoch, leased_by, started_at)
		select ${run.id}::uuid, ${run.workspace_id}::uuid, ${parent.nodeId}, ${parent.iteration}, c.path, c.kind,
			${taken(sql`'running'`, sql`'ready'`)}::step_status, c.input,
			${claim === null ? sql`clock_timestamp()` : taken(leaseUntil(claim), sql`clock_timestamp()`)},
			${taken(sql`1`, sql`0`)}, ${taken(sql`1`, sql`0`)},
			${taken(sql`${claim?.workerId ?? null}`, sql`null`)},
			${taken(sql`clock_timestamp()`, sql`null`)}
		from (
			select c.*, row_number() over (order by c.path) as n
			from jsonb_to_recordset(${JSON.stringify(specs)}::jsonb) as c(path text, kind text, input jsonb)
		) c
		on conflict (run_id, node_id, iteration, path) do nothing
		returning ${claimColumns}, status = 'running' as running
	`);
	const created = rows<ReturnedRow>(inserted);
	const claimed: ChildClaimRow[] = [];
	for (const { running, ...row } of created)
		if (running) claimed.push({ ...row, claimed_from: 'ready' });
	return { due: created.length, claimed };
}

/**
 * A child finished (either way): when none of its siblings is left, its parent is woken, and
 * claimed for the committing worker when it has a slot left. Nothing is due while siblings are
 * still at work.
 */
export async function childFinished(
	tx: Db,
	step: ClaimedStep,
	claim: ClaimOnCommit | null
): Promise<ChildWork> {
	const parent = parentPath(step.path);
	const siblings = `${parent === '' ? '' : `${parent}/`}%`;
	const set =
		claim === null || claim.limit <= 0
			? sql`due_at = clock_timestamp()`
			: sql`status = 'running', lease_epoch = lease_epoch + 1, leased_by = ${claim.workerId},
				due_at = ${leaseUntil(claim)}, started_at = coalesce(started_at, clock_timestamp())`;
	const woken = await tx.execute(sql`
		update run_steps set ${set}
		where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration = ${step.iteration}
			and path = ${parent} and status = 'waiting'
			and not exists (
				select 1 from run_steps c
				where c.run_id = ${step.runId} and c.node_id = ${step.nodeId} and c.iteration = ${step.iteration}
					and c.path <> ${parent} and c.path like ${siblings} and c.path not like ${`${siblings}/%`}
					and c.status in ('pending', 'ready', 'running', 'waiting')
			)
		returning ${claimColumns}, status = 'running' as running
	`);
	const row = rows<ReturnedRow>(woken)[0];
	if (row === undefined) return { due: 0, claimed: [] };
	const { running, ...claimed } = row;
	return { due: 1, claimed: running ? [{ ...claimed, claimed_from: 'waiting' }] : [] };
}

/**
 * The child work a commit claimed, as steps for its worker to execute, each with its
 * `step.started` event; sets `log.wake` when some of the work it made due is left for others.
 */
export function claimedChildren(
	run: RunRow,
	work: ChildWork,
	finished: FinishedStep[] | undefined,
	log: EventLog
): ClaimedStep[] {
	if (work.claimed.length < work.due) log.wake = true;
	return work.claimed.map((row) => {
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
