import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import type { ClaimedStep } from '../db/run-queue.ts';
import type { ChildStepSpec } from './kinds/types.ts';

// Child steps: work a step (an agent) does as steps of their own, so each piece is journaled and a
// crashed worker loses at most the piece in flight. A child shares its parent's node and iteration
// and has a path below the parent's: turn 3 of an agent is `t3`, its second tool call `t3.c1`; a
// child of `t3.c1` (a nested agent's turn) is `t3.c1/t0`. The parent parks (waiting, no timer)
// while its children run and is woken when the last of them finishes, like a map by its iterations.

/** The path of the step a child belongs to ('' for a node's own step or a map iteration). */
export function parentPath(path: string): string {
	const slash = path.lastIndexOf('/');
	return slash < 0 ? '' : path.slice(0, slash);
}

/** The full path of a child named `name` (e.g. `t3`, `t3.c1`) under the step at `parent`. */
export function childPath(parent: string, name: string): string {
	return parent === '' ? name : `${parent}/${name}`;
}

/**
 * Creates the children a parent asked for (idempotently) in the transaction that parks it; returns
 * the paths of those it created (ready), for the committing worker to claim or leave to others.
 */
export async function createChildren(
	tx: Db,
	run: { id: string; workspace_id: string },
	parent: Pick<ClaimedStep, 'nodeId' | 'iteration' | 'path'>,
	children: ChildStepSpec[]
): Promise<string[]> {
	if (children.length === 0) return [];
	const specs = children.map((child) => ({
		path: childPath(parent.path, child.name),
		kind: child.kind,
		input: child.input ?? null
	}));
	const inserted = await tx.execute(sql`
		insert into run_steps (run_id, workspace_id, node_id, iteration, path, kind, status, input, due_at)
		select ${run.id}::uuid, ${run.workspace_id}::uuid, ${parent.nodeId}, ${parent.iteration}, c.path, c.kind,
			'ready', c.input, clock_timestamp()
		from jsonb_to_recordset(${JSON.stringify(specs)}::jsonb) as c(path text, kind text, input jsonb)
		on conflict (run_id, node_id, iteration, path) do nothing
		returning path
	`);
	return rows<{ path: string }>(inserted).map((row) => row.path);
}

/**
 * A child finished (either way): when none of its siblings is left, its parent is woken. Returns
 * the woken parent's path, or null when siblings are still at work.
 */
export async function childFinished(tx: Db, step: ClaimedStep): Promise<string | null> {
	const parent = parentPath(step.path);
	const siblings = `${parent === '' ? '' : `${parent}/`}%`;
	const woken = await tx.execute(sql`
		update run_steps set due_at = clock_timestamp()
		where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration = ${step.iteration}
			and path = ${parent} and status = 'waiting'
			and not exists (
				select 1 from run_steps c
				where c.run_id = ${step.runId} and c.node_id = ${step.nodeId} and c.iteration = ${step.iteration}
					and c.path <> ${parent} and c.path like ${siblings} and c.path not like ${`${siblings}/%`}
					and c.status in ('pending', 'ready', 'running', 'waiting')
			)
		returning path
	`);
	return rows(woken).length > 0 ? parent : null;
}
