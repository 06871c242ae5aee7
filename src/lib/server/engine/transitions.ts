import type { RunEventMessage } from '../channels.ts';
import { isActiveRun, type RunStatus } from '../../schemas/run-status.ts';
import { activeRunStatusList } from '../db/schema/runs.ts';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import {
	finishedSteps,
	isNodeStep,
	notifyWorkers,
	stepsChannel,
	type ClaimedStep,
	type FinishedStep
} from '../db/run-queue.ts';
import type { RunError } from '../db/schema/index.ts';
import { runInputSchema, type StepStatus } from '../../schemas/workflow.ts';
import { buildGraph, type WorkflowGraph } from './definition.ts';
import { evaluateExpression } from './expressions.ts';
import type { WaitEffect } from './kinds/types.ts';

/** One entry of a run's event log, before it is numbered. */
export interface PendingEvent {
	type: string;
	stepId?: string | null;
	nodeId?: string | null;
	data?: Record<string, unknown>;
}

/** Collects the events of one transaction and writes them with the run's next sequence numbers. */
export class EventLog {
	readonly #byRun = new Map<string, { workspaceId: string; events: PendingEvent[] }>();
	wake = false;

	add(runId: string, workspaceId: string, event: PendingEvent): void {
		let entry = this.#byRun.get(runId);
		if (!entry) this.#byRun.set(runId, (entry = { workspaceId, events: [] }));
		entry.events.push(event);
	}

	/** One statement per run: bump its sequence, insert the events, and NOTIFY workers if asked. */
	async write(tx: Db): Promise<RunEventMessage[]> {
		const written: RunEventMessage[] = [];
		let wake = this.wake;
		for (const [runId, { workspaceId, events }] of this.#byRun) {
			const payload = events.map((event, index) => ({
				ord: index + 1,
				type: event.type,
				stepId: event.stepId ?? null,
				nodeId: event.nodeId ?? null,
				data: event.data ?? {}
			}));
			// Identical notifications within a transaction are delivered once.
			const inserted = await tx.execute(sql`
				with bumped as (
					update runs set event_seq = event_seq + ${events.length} where id = ${runId}
					returning event_seq - ${events.length} as base
				)
				insert into run_events (run_id, seq, workspace_id, type, step_id, node_id, data, at)
				select ${runId}::uuid, bumped.base + e.ord, ${workspaceId}::uuid, e.type, e."stepId", e."nodeId",
					e.data, clock_timestamp()
				from bumped, jsonb_to_recordset(${JSON.stringify(payload)}::jsonb)
					as e(ord int, type text, "stepId" uuid, "nodeId" text, data jsonb)
				returning seq, at, case when ${wake} then pg_notify(${stepsChannel}, '') end as notified
			`);
			wake = false;
			const numbered = rows<{ seq: number; at: Date | string }>(inserted).sort(
				(a, b) => a.seq - b.seq
			);
			numbered.forEach((row, index) => {
				const event = payload[index];
				if (!event) return;
				written.push({
					runId,
					workspaceId,
					seq: Number(row.seq),
					type: event.type,
					stepId: event.stepId,
					nodeId: event.nodeId,
					data: event.data,
					at: new Date(row.at).toISOString()
				});
			});
		}
		if (wake) await notifyWorkers(tx);
		return written;
	}
}

export interface RunRow {
	id: string;
	workspace_id: string;
	workflow_id: string;
	version_id: string;
	status: RunStatus;
	input: unknown;
	parent_step_id: string | null;
	parent_run_id: string | null;
}

/** Locks the run for the rest of the transaction: every change to a run's steps is serialized. */
export async function lockRun(tx: Db, runId: string): Promise<RunRow | null> {
	const result = await tx.execute(sql`
		select id, workspace_id, workflow_id, version_id, status, input, parent_step_id, parent_run_id
		from runs where id = ${runId} for update
	`);
	return rows<RunRow>(result)[0] ?? null;
}

/** Loads (and caches, versions being immutable) the graph a run executes. */
export type GraphLoader = (versionId: string) => Promise<WorkflowGraph>;

export function createGraphLoader(db: Db, cacheSize = 200): GraphLoader {
	const cache = new Map<string, WorkflowGraph>();
	return async (versionId) => {
		const cached = cache.get(versionId);
		if (cached) return cached;
		const result = await db.execute(
			sql`select definition from workflow_versions where id = ${versionId}`
		);
		const row = rows<{ definition: WorkflowGraph['definition'] }>(result)[0];
		if (!row) throw new Error(`workflow version ${versionId} not found`);
		const graph = buildGraph(row.definition);
		if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
		cache.set(versionId, graph);
		return graph;
	};
}

/** A run's steps as this transaction sees them (after the run lock); changed in memory first. */
export interface StepRow {
	id: string;
	node_id: string;
	iteration: number;
	path: string;
	status: StepStatus;
	branch: string | null;
	/** A waiting step already woken (due now): a worker is about to take it. */
	due?: boolean;
}

export interface StepSnapshot {
	all: (StepRow & { output?: unknown })[];
	/** Whether `all` carries the outputs of succeeded node steps. */
	withOutputs: boolean;
	/** The node steps (iteration -1, path '') by node id. */
	nodes: Map<string, StepRow>;
}

export async function loadSteps(tx: Db, runId: string, withOutputs = false): Promise<StepSnapshot> {
	const result = await tx.execute(sql`
		select id, node_id, iteration, path, status, branch,
			status = 'waiting' and due_at <= clock_timestamp() as due,
			case when ${withOutputs} and status = 'succeeded' and iteration < 0 and path = '' then output end
				as output
		from run_steps where run_id = ${runId}
	`);
	const all = rows<StepRow & { output: unknown }>(result);
	return {
		all,
		withOutputs,
		nodes: new Map(all.filter(isNodeStep).map((row) => [row.node_id, row]))
	};
}

/** Lets the committing worker take steps it just made ready, saving a round trip and a wake-up. */
export interface ClaimOnCommit {
	workerId: string;
	leaseMs: number;
	limit: number;
	/**
	 * Nodes whose ready steps are claimed beyond `limit`: the committing worker executes them inline,
	 * within the commit (see fast-commit.ts), so they take no slot.
	 */
	inline?: (nodeId: string) => boolean;
}

/**
 * Decides the successors of `fromNodeIds` (see decideSuccessors) and writes the decisions in one
 * statement. Up to `claim.limit` of the ready steps are claimed at once.
 */
export async function propagate(
	tx: Db,
	run: RunRow,
	graph: WorkflowGraph,
	fromNodeIds: string | string[],
	log: EventLog,
	options: { steps?: StepSnapshot; claim?: ClaimOnCommit | null } = {}
): Promise<ClaimedStep[]> {
	const snapshot = options.steps ?? (await loadSteps(tx, run.id));
	const { changes, skipped, wake } = decideSuccessors(
		graph,
		fromNodeIds,
		snapshot.nodes,
		options.claim?.limit ?? 0
	);
	if (wake) log.wake = true;
	for (const step of skipped) {
		log.add(run.id, run.workspace_id, {
			type: 'step.skipped',
			stepId: step.id,
			nodeId: step.node_id
		});
	}
	if (changes.length === 0) return [];
	const claim = options.claim;
	const result = await tx.execute(sql`
		update run_steps s set
			status = c.status::step_status,
			due_at = case c.status
				when 'ready' then clock_timestamp()
				when 'running' then clock_timestamp() + make_interval(secs => ${(claim?.leaseMs ?? 0) / 1000})
			end,
			finished_at = case when c.status = 'skipped' then clock_timestamp() end,
			started_at = case when c.status = 'running' then clock_timestamp() end,
			attempt = s.attempt + case when c.status = 'running' then 1 else 0 end,
			lease_epoch = s.lease_epoch + case when c.status = 'running' then 1 else 0 end,
			leased_by = case when c.status = 'running' then ${claim?.workerId ?? null} end
		from jsonb_to_recordset(${JSON.stringify(changes)}::jsonb) as c(id uuid, status text)
		where s.id = c.id
		returning s.id, s.node_id, s.iteration, s.path, s.kind, s.status, s.attempt, s.lease_epoch
	`);
	const claimed = rows<{
		id: string;
		node_id: string;
		iteration: number;
		path: string;
		kind: string;
		status: StepStatus;
		attempt: number;
		lease_epoch: number;
	}>(result).filter((row) => row.status === 'running');
	for (const row of claimed) log.add(run.id, run.workspace_id, startedEvent(row));
	// What the claimed steps will read: the outputs this transaction sees, saving them a query.
	const finished = snapshot.withOutputs ? finishedSteps(snapshot.all) : undefined;
	return claimed.map((row) => claimedOnCommit(run, row, finished));
}

type ClaimedRow = Pick<ClaimedStep, 'kind' | 'attempt' | 'iteration' | 'path'> & {
	id: string;
	node_id: string;
	lease_epoch: number;
};

/** The event of a step a commit claimed. */
export function startedEvent(row: ClaimedRow): PendingEvent {
	return {
		type: 'step.started',
		stepId: row.id,
		nodeId: row.node_id,
		data: { attempt: row.attempt, iteration: row.iteration, resumed: false, recovered: false }
	};
}

/** A step a commit made ready and claimed for the committing worker, as that worker executes it. */
export function claimedOnCommit(
	run: RunRow,
	row: ClaimedRow,
	finished: FinishedStep[] | undefined
): ClaimedStep {
	return {
		id: row.id,
		runId: run.id,
		workspaceId: run.workspace_id,
		nodeId: row.node_id,
		iteration: row.iteration,
		path: row.path,
		kind: row.kind,
		claimedFrom: 'ready',
		input: null,
		state: null,
		error: null,
		attempt: row.attempt,
		leaseEpoch: row.lease_epoch,
		runInput: run.input,
		versionId: run.version_id,
		workflowId: run.workflow_id,
		finished
	};
}

/** What became of the nodes downstream of the given ones. */
export interface SuccessorDecisions {
	/** Status changes, in decision order; `running` ones are claimed by the committing worker. */
	changes: { id: string; status: 'ready' | 'skipped' | 'running' }[];
	skipped: StepRow[];
	/** Ready steps were left for other workers. */
	wake: boolean;
}

/**
 * After `fromNodeIds` finished (or were skipped), decides for each node downstream whether it is now
 * ready, skipped (no taken edge can reach it any more) or still waiting on other branches. Updates
 * `steps` in place; up to `claimLimit` ready steps become `running` (claimed by the caller), and
 * so do the ready steps of nodes `beyond` names, whatever the limit.
 */
export function decideSuccessors(
	graph: WorkflowGraph,
	fromNodeIds: string | string[],
	steps: Map<string, StepRow>,
	claimLimit: number,
	beyond?: (nodeId: string) => boolean
): SuccessorDecisions {
	const decisions: SuccessorDecisions = { changes: [], skipped: [], wake: false };
	let claimable = claimLimit;
	const work = [fromNodeIds]
		.flat()
		.flatMap((nodeId) => (graph.outgoing.get(nodeId) ?? []).map((edge) => edge.to));
	while (work.length > 0) {
		const nodeId = work.shift() as string;
		const step = steps.get(nodeId);
		if (!step || step.status !== 'pending') continue;
		const decision = readiness(graph, nodeId, steps);
		if (decision === 'ready') {
			if (beyond?.(nodeId) === true) step.status = 'running';
			else if (claimable > 0) {
				step.status = 'running';
				claimable -= 1;
			} else {
				step.status = 'ready';
				decisions.wake = true;
			}
			decisions.changes.push({ id: step.id, status: step.status });
		} else if (decision === 'skipped') {
			step.status = 'skipped';
			decisions.changes.push({ id: step.id, status: 'skipped' });
			decisions.skipped.push(step);
			work.push(...(graph.outgoing.get(nodeId) ?? []).map((edge) => edge.to));
		}
	}
	return decisions;
}

function readiness(
	graph: WorkflowGraph,
	nodeId: string,
	steps: Map<string, StepRow>
): 'ready' | 'skipped' | 'wait' {
	const edges = graph.incoming.get(nodeId) ?? [];
	let taken = 0;
	let undecided = 0;
	for (const edge of edges) {
		const source = steps.get(edge.from);
		const status = source?.status;
		if (status === 'succeeded') {
			if (edge.branch === undefined || edge.branch === source?.branch) taken += 1;
		} else if (status !== 'skipped' && status !== 'failed' && status !== 'cancelled') {
			undecided += 1;
		}
	}
	const node = graph.nodes.get(nodeId);
	const join = node?.kind === 'join' ? (node.config as { mode?: string; n?: number }) : null;
	if (join?.mode === 'any') return taken >= 1 ? 'ready' : undecided === 0 ? 'skipped' : 'wait';
	if (join?.mode === 'first-n') {
		const n = join.n ?? 1;
		if (taken >= n) return 'ready';
		return taken + undecided < n ? 'skipped' : 'wait';
	}
	if (undecided > 0) return 'wait';
	return taken > 0 ? 'ready' : 'skipped';
}

/**
 * The input a step sees: the run input for the input node; for a node with one taken predecessor,
 * that predecessor's output; for a join or a merge of several, their outputs keyed by node id.
 */
export function stepInputFor(
	graph: WorkflowGraph,
	nodeId: string,
	runInput: unknown,
	finished: Map<string, { output: unknown; branch: string | null }>
): unknown {
	if (nodeId === graph.inputNodeId) return runInput;
	const takenOutputs: Record<string, unknown> = {};
	for (const edge of graph.incoming.get(nodeId) ?? []) {
		const source = finished.get(edge.from);
		if (source && (edge.branch === undefined || edge.branch === source.branch)) {
			takenOutputs[edge.from] = source.output;
		}
	}
	const keys = Object.keys(takenOutputs);
	if (graph.nodes.get(nodeId)?.kind !== 'join' && keys.length === 1) {
		return takenOutputs[keys[0] as string];
	}
	return takenOutputs;
}

/** Marks the run finished when nothing is left to do, or waiting when only parked steps remain. */
export async function settleRun(
	tx: Db,
	run: RunRow,
	graph: WorkflowGraph,
	log: EventLog,
	/** The run's steps as they now are, or `busy` when the commit knows some are ready or running. */
	snapshot?: StepSnapshot | 'busy'
): Promise<void> {
	const settled =
		snapshot === 'busy'
			? 'running'
			: settleDecision((snapshot ?? (await loadSteps(tx, run.id))).all);
	if (settled === 'finished') {
		const needsOutputs =
			graph.definition.output !== undefined ||
			graph.definition.nodes.some((node) => node.kind === 'output');
		const outputs = needsOutputs
			? await tx.execute(sql`
					select node_id, output from run_steps
					where run_id = ${run.id} and iteration = -1 and path = '' and status = 'succeeded'
				`)
			: [];
		const steps: Record<string, { output: unknown }> = {};
		for (const row of rows<{ node_id: string; output: unknown }>(outputs))
			steps[row.node_id] = { output: row.output };
		let output: unknown;
		try {
			output = await runOutput(graph, run.input, steps);
		} catch (error) {
			await finishRun(
				tx,
				run,
				'failed',
				{
					code: 'output_error',
					message: error instanceof Error ? error.message : String(error)
				},
				log
			);
			return;
		}
		await finishRun(tx, run, 'succeeded', null, log, output);
		return;
	}
	const status = settled;
	if (status !== run.status && !(run.status === 'queued' && status === 'running')) {
		await tx.execute(sql`update runs set status = ${status} where id = ${run.id}`);
		if (status === 'waiting') log.add(run.id, run.workspace_id, { type: 'run.waiting' });
		run.status = status;
	}
}

/**
 * Where a run stands given its steps: finished when nothing is left to do, waiting when only parked
 * steps remain (pending steps wait on others, so only ready, running and woken ones keep it
 * running).
 */
export function settleDecision(
	all: Pick<StepRow, 'status' | 'due'>[]
): 'finished' | 'running' | 'waiting' {
	let active = 0;
	let busy = 0;
	for (const { status, due } of all) {
		// A parent woken by its last child (or map iteration) is about to run, not parked.
		if (status === 'ready' || status === 'running' || due === true) busy += 1;
		if (status === 'pending' || status === 'waiting' || status === 'ready' || status === 'running')
			active += 1;
	}
	if (active === 0) return 'finished';
	return busy === 0 ? 'waiting' : 'running';
}

export async function runOutput(
	graph: WorkflowGraph,
	input: unknown,
	steps: Record<string, { output: unknown }>
): Promise<unknown> {
	if (graph.definition.output !== undefined) {
		return evaluateExpression(graph.definition.output, { input, steps }, { input: null });
	}
	const outputNode = graph.definition.nodes.find(
		(node) => node.kind === 'output' && steps[node.id]
	);
	return outputNode ? (steps[outputNode.id]?.output ?? null) : null;
}

/**
 * Ends a run: unfinished steps are cancelled (so a worker still executing one cannot commit),
 * pending approvals withdrawn, child runs cancelled, and a parent waiting on it woken.
 */
export async function finishRun(
	tx: Db,
	run: RunRow,
	status: 'succeeded' | 'failed' | 'cancelled',
	error: RunError | null,
	log: EventLog,
	output: unknown = null
): Promise<void> {
	// A run only succeeds once nothing is left, so only failure and cancellation clean up.
	if (status !== 'succeeded') {
		await tx.execute(sql`
			update run_steps set status = 'cancelled', due_at = null, finished_at = clock_timestamp()
			where run_id = ${run.id} and status in ('pending', 'ready', 'running', 'waiting')
		`);
		await tx.execute(sql`
			update approvals set status = 'cancelled' where run_id = ${run.id} and status = 'pending'
		`);
	}
	await tx.execute(sql`
		update runs set status = ${status}, output = ${JSON.stringify(output)}::jsonb,
			error = ${error === null ? null : JSON.stringify(error)}::jsonb, finished_at = clock_timestamp()
		where id = ${run.id}
	`);
	run.status = status;
	log.add(run.id, run.workspace_id, {
		type: `run.${status}`,
		data: error === null ? {} : { error: error as unknown as Record<string, unknown> }
	});
	const children =
		status === 'succeeded'
			? []
			: await tx.execute(sql`
					select id from runs where parent_run_id = ${run.id} and status in (${activeRunStatusList})
				`);
	for (const child of rows<{ id: string }>(children)) {
		const locked = await lockRun(tx, child.id);
		if (locked && isActiveRun(locked.status)) {
			await finishRun(
				tx,
				locked,
				'cancelled',
				{ code: 'parent_finished', message: 'The parent run ended.' },
				log
			);
		}
	}
	if (run.parent_step_id !== null) {
		await tx.execute(sql`
			update run_steps set due_at = clock_timestamp() where id = ${run.parent_step_id} and status = 'waiting'
		`);
		log.wake = true;
	}
}

/**
 * Executes the side effect a waiting step asked for, in the transaction that parks it. Each effect
 * is idempotent (keyed by the step), so a step executed again after a crash asks for it again safely.
 */
export async function applyWaitEffect(
	tx: Db,
	run: RunRow,
	step: Pick<ClaimedStep, 'id' | 'nodeId'>,
	// Children are made by the commit itself (engine/child-claims.ts), which may claim them.
	effect: Exclude<WaitEffect, { type: 'children' }>,
	graph: WorkflowGraph,
	log: EventLog
): Promise<RunError | null> {
	if (effect.type === 'approval') {
		const inserted = await tx.execute(sql`
			insert into approvals (workspace_id, run_id, step_id, node_id, title, details, deadline_at)
			values (${run.workspace_id}, ${run.id}, ${step.id}, ${step.nodeId}, ${effect.title}, ${effect.details},
				${effect.deadlineAt?.toISOString() ?? null})
			on conflict (step_id) do nothing
			returning id
		`);
		if (rows(inserted).length === 0) return null;
		log.add(run.id, run.workspace_id, {
			type: 'approval.requested',
			stepId: step.id,
			nodeId: step.nodeId,
			data: { title: effect.title }
		});
		return null;
	}
	if (effect.type === 'iterations') {
		const node = graph.nodes.get(step.nodeId);
		const body = (node?.config as { node?: { kind?: string } } | undefined)?.node;
		const items = effect.items.map((item, index) => ({
			iteration: index,
			status: index < effect.concurrency ? 'ready' : 'pending',
			input: item
		}));
		await tx.execute(sql`
			insert into run_steps (run_id, workspace_id, node_id, iteration, kind, status, input, due_at)
			select ${run.id}::uuid, ${run.workspace_id}::uuid, ${step.nodeId}, i.iteration, ${body?.kind ?? 'unknown'},
				i.status::step_status, i.input, case when i.status = 'ready' then clock_timestamp() end
			from jsonb_to_recordset(${JSON.stringify(items)}::jsonb) as i(iteration int, status text, input jsonb)
			on conflict (run_id, node_id, iteration, path) do nothing
		`);
		log.wake = true;
		return null;
	}
	return startChildRun(tx, run, step, effect, log);
}

export const maxSubworkflowDepth = 10;

async function startChildRun(
	tx: Db,
	run: RunRow,
	step: { id: string; nodeId: string },
	effect: Extract<WaitEffect, { type: 'child-run' }>,
	log: EventLog
): Promise<RunError | null> {
	const existing = await tx.execute(sql`select id from runs where parent_step_id = ${step.id}`);
	if (rows(existing).length > 0) return null;
	const found = await tx.execute(sql`
		select v.id, v.definition from workflows w
		join workflow_versions v on v.id = coalesce(${effect.versionId}::uuid, w.published_version_id)
		where w.id = ${effect.workflowId} and w.workspace_id = ${run.workspace_id} and v.workflow_id = w.id
	`);
	const version = rows<{ id: string; definition: WorkflowGraph['definition'] }>(found)[0];
	if (!version) {
		return {
			code: 'subworkflow_not_found',
			message: 'The subworkflow does not exist in this workspace or has no published version.'
		};
	}
	const input = runInputSchema(version.definition.inputs).safeParse(effect.input ?? {});
	if (!input.success) {
		const issue = input.error.issues[0];
		return {
			code: 'subworkflow_invalid_input',
			message:
				`The child run's input does not match its inputs: ${issue?.path.join('.') || 'input'} ${issue?.message ?? ''}`.trim()
		};
	}
	// A workflow that starts itself would otherwise nest runs without end.
	const depth = await tx.execute(sql`
		with recursive ancestors as (
			select id, parent_run_id, 1 as depth from runs where id = ${run.id}
			union all
			select r.id, r.parent_run_id, a.depth + 1 from runs r join ancestors a on r.id = a.parent_run_id
			where a.depth < ${maxSubworkflowDepth + 1}
		)
		select max(depth)::int as depth from ancestors
	`);
	if ((rows<{ depth: number }>(depth)[0]?.depth ?? 0) >= maxSubworkflowDepth) {
		return {
			code: 'subworkflow_too_deep',
			message: `Subworkflows nest at most ${maxSubworkflowDepth} levels deep.`
		};
	}
	await createRunRows(
		tx,
		{
			workspaceId: run.workspace_id,
			workflowId: effect.workflowId,
			versionId: version.id,
			definition: version.definition,
			input: input.data,
			trigger: 'workflow',
			parentRunId: run.id,
			parentStepId: step.id,
			createdBy: null
		},
		log
	);
	return null;
}

export interface NewRun {
	workspaceId: string;
	workflowId: string;
	versionId: string;
	definition: WorkflowGraph['definition'];
	input: unknown;
	trigger: 'manual' | 'api' | 'webhook' | 'schedule' | 'workflow' | 'rerun';
	triggerId?: string | null;
	parentRunId?: string | null;
	parentStepId?: string | null;
	rerunOf?: string | null;
	createdBy: string | null;
}

/** A new run's step rows: one per node, pending, the input node ready with the run input. */
export function initialSteps(run: NewRun, prepared: PreparedSteps = new Map()) {
	const inputNode = run.definition.nodes.find((node) => node.kind === 'input')?.id;
	return run.definition.nodes.map((node) => {
		const given = prepared.get(node.id);
		const status = given?.status ?? (node.id === inputNode ? 'ready' : 'pending');
		return {
			nodeId: node.id,
			kind: node.kind,
			status,
			input: given?.input ?? (node.id === inputNode ? (run.input ?? null) : null),
			output: given?.output ?? null,
			branch: given?.branch ?? null,
			reused: given?.reused ?? false
		};
	});
}

type PreparedSteps = Map<
	string,
	{
		status: StepStatus;
		input?: unknown;
		output?: unknown;
		branch?: string | null;
		reused?: boolean;
	}
>;

/** Inserts a run and one pending step per node, the input node ready; the caller commits. */
export async function createRunRows(
	tx: Db,
	run: NewRun,
	log: EventLog,
	prepared: PreparedSteps = new Map()
): Promise<string> {
	const timeoutMs = run.definition.timeoutMs;
	const inserted = await tx.execute(sql`
		insert into runs (workspace_id, workflow_id, version_id, input, trigger, trigger_id, parent_run_id,
			parent_step_id, rerun_of, created_by, deadline_at)
		values (${run.workspaceId}, ${run.workflowId}, ${run.versionId}, ${JSON.stringify(run.input ?? null)}::jsonb,
			${run.trigger}, ${run.triggerId ?? null}, ${run.parentRunId ?? null}, ${run.parentStepId ?? null},
			${run.rerunOf ?? null}, ${run.createdBy},
			${timeoutMs === undefined ? null : sql`clock_timestamp() + make_interval(secs => ${timeoutMs / 1000})`})
		returning id
	`);
	const runId = rows<{ id: string }>(inserted)[0]?.id as string;
	const steps = initialSteps(run, prepared);
	await tx.execute(sql`
		insert into run_steps (run_id, workspace_id, node_id, kind, status, input, output, branch, reused, due_at, finished_at)
		select ${runId}::uuid, ${run.workspaceId}::uuid, s."nodeId", s.kind, s.status::step_status, s.input, s.output,
			s.branch, s.reused, case when s.status = 'ready' then clock_timestamp() end,
			case when s.status in ('succeeded', 'skipped') then clock_timestamp() end
		from jsonb_to_recordset(${JSON.stringify(steps)}::jsonb)
			as s("nodeId" text, kind text, status text, input jsonb, output jsonb, branch text, reused boolean)
	`);
	log.add(runId, run.workspaceId, { type: 'run.queued', data: { trigger: run.trigger } });
	log.wake = true;
	return runId;
}
