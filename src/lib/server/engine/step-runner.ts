import { activeRunStatusList } from '../db/schema/runs.ts';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { createRedactor, createStreamRedactor } from '../credentials/redact.ts';
import type { DeltaPublisher } from '../bus/deltas.ts';
import { rows } from '../db/migrate.ts';
import {
	finishedSteps,
	isNodeStep,
	succeededOutputs,
	type ClaimedStep,
	type FinishedStep
} from '../db/run-queue.ts';
import type { RunError } from '../db/schema/index.ts';
import { retryPolicySchema, type RetryPolicy, type WorkflowNode } from '../../schemas/workflow.ts';
import type { KindRegistry, WorkflowGraph } from './definition.ts';
import {
	StepFailure,
	type ChildStep,
	type AnyNodeKind,
	type ModelUsageRecord,
	type StepContext,
	type StepLogEntry,
	type StepLookup,
	type StepOutcome
} from './kinds/types.ts';
import { childFinished, claimedChildren, createChildren, type ChildWork } from './child-claims.ts';
import { parentPath } from './children.ts';
import {
	EventLog,
	applyWaitEffect,
	finishRun,
	loadSteps,
	propagate,
	settleRun,
	stepInputFor,
	type ClaimOnCommit,
	type GraphLoader,
	type RunRow
} from './transitions.ts';
import { isActiveRun } from '../../schemas/run-status.ts';
import { storableJson, toStorable } from '../../schemas/storable.ts';
import type { RunEventMessage } from '../channels.ts';

/** A step's result as the engine records it; `logs` of a waiting step are the engine's warnings. */
export type ExecutionResult =
	| Exclude<StepOutcome, { type: 'wait' }>
	| (Extract<StepOutcome, { type: 'wait' }> & { logs?: StepLogEntry[] })
	| {
			type: 'failed';
			error: RunError;
			retryable: boolean;
			logs?: StepLogEntry[];
			usage?: ModelUsageRecord[];
	  };

/** The lease was taken over, or the run ended, while the step executed: its result is dropped. */
export class StaleLeaseError extends Error {
	override name = 'StaleLeaseError';
}

// A step whose worker keeps dying is not retried forever.
const maxRecoveries = 5;

export interface StepRunnerDeps {
	db: Db;
	kinds: KindRegistry;
	loadGraph: GraphLoader;
	now(): Date;
	random(): number;
	/** Where `stream()` output goes; dropped without one (tests, tools). */
	deltas?: DeltaPublisher;
}

/**
 * The node a step executes: the node itself, or the body of its map for an iteration; a child step
 * executes its own kind with the config of the node (or body) it belongs to.
 */
export function nodeForStep(
	graph: WorkflowGraph,
	step: Pick<ClaimedStep, 'nodeId' | 'iteration' | 'path' | 'kind'>
) {
	const node = graph.nodes.get(step.nodeId);
	if (!node) return null;
	const own =
		step.iteration < 0
			? node
			: ({
					...(node.config as { node: Omit<WorkflowNode, 'id'> }).node,
					id: node.id
				} as WorkflowNode);
	return step.path === '' ? own : { ...own, kind: step.kind };
}

/**
 * Runs the node's executor for a claimed step. Failures become a result; it throws only when
 * `signal` aborted it (the lease was lost, the run ended or the worker is stopping), so that
 * nothing is committed for it. The result is always storable (see `storableResult`).
 */
export async function executeStep(
	deps: StepRunnerDeps,
	step: ClaimedStep,
	signal: AbortSignal
): Promise<{ result: ExecutionResult; input: unknown }> {
	const executed = await executeNode(deps, step, signal);
	return { input: executed.input, result: storableResult(executed.result) };
}

async function executeNode(
	deps: StepRunnerDeps,
	step: ClaimedStep,
	signal: AbortSignal
): Promise<{ result: ExecutionResult; input: unknown }> {
	const graph = await deps.loadGraph(step.versionId);
	const node = nodeForStep(graph, step);
	const kind = node && deps.kinds.get(node.kind);
	if (!node || !kind) {
		return {
			input: step.input,
			result: failure(
				'unknown_kind',
				`Node kind "${node?.kind ?? step.kind}" is not available.`,
				false
			)
		};
	}
	// Nothing can have finished before a run's input node.
	const isFirst = step.nodeId === graph.inputNodeId && isNodeStep(step);
	const readsOutputs = readsOutputsOf(kind, step);
	const finished = new Map(
		(
			step.finished ?? (isFirst || !readsOutputs ? [] : await succeededOutputs(deps.db, step.runId))
		).map((row) => [row.nodeId, row])
	);
	const input = step.input ?? stepInputFor(graph, step.nodeId, step.runInput, finished);
	const policy = retryPolicyOf(node);
	if (step.claimedFrom === 'running' && step.attempt > policy.maxAttempts + maxRecoveries) {
		return {
			input,
			result: failure('worker_lost', 'The workers executing this step kept stopping.', false)
		};
	}
	const parsed = kind.configSchema.safeParse(node.config);
	if (!parsed.success) {
		return {
			input,
			result: failure('invalid_config', parsed.error.issues[0]?.message ?? 'Invalid config.', false)
		};
	}
	const controller = new AbortController();
	const abort = () => controller.abort(signal.reason);
	signal.addEventListener('abort', abort, { once: true });
	const timer =
		node.timeoutMs === undefined
			? undefined
			: setTimeout(
					() =>
						controller.abort(
							new StepFailure('timeout', `The step took longer than ${node.timeoutMs} ms.`)
						),
					node.timeoutMs
				);
	const steps: Record<string, { output: unknown }> = {};
	for (const [nodeId, row] of finished) steps[nodeId] = { output: row.output };
	const concealed: string[] = [];
	const scrub = (result: ExecutionResult) =>
		concealed.length === 0 ? result : createRedactor(concealed)(result);
	// Streamed output is scrubbed too, also of a secret split across two pieces.
	const streamed = createStreamRedactor(() => concealed);
	const streamTarget = { runId: step.runId, stepId: step.id, nodeId: step.nodeId };
	try {
		const aborted = new Promise<never>((_, reject) => {
			controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
				once: true
			});
		});
		const outcome = await Promise.race([
			kind.execute(
				{
					runId: step.runId,
					workspaceId: step.workspaceId,
					nodeId: step.nodeId,
					iteration: step.iteration,
					path: step.path,
					attempt: step.attempt,
					idempotencyKey: idempotencyKeyOf(step),
					input,
					data: readsOutputs
						? { input: step.runInput, steps }
						: withoutOutputs(step.runInput, kind),
					budget: graph.definition.budget ?? null,
					state: step.state,
					signal: controller.signal,
					now: deps.now,
					lookup: createLookup(deps.db, step),
					conceal: (secrets) => void concealed.push(...secrets),
					stream: (text) => deps.deltas?.push(streamTarget, streamed.push(text))
				},
				parsed.data
			),
			aborted
		]);
		// Kinds are typed, but one built outside this codebase could return anything: a step must
		// still end, not leave its run stuck.
		if (outcome?.type !== 'succeeded' && outcome?.type !== 'wait') {
			return {
				input,
				result: failure(
					'invalid_outcome',
					`Node kind "${node.kind}" returned no valid outcome.`,
					false
				)
			};
		}
		return { input, result: scrub(outcome) };
	} catch (error) {
		if (error instanceof StepFailure) {
			const failed = failure(error.code, error.message, error.retryable);
			const { logs, usage } = error;
			return {
				input,
				result: scrub({ ...failed, ...(logs && { logs }), ...(usage && { usage }) })
			};
		}
		if (signal.aborted) throw signal.reason;
		const message = error instanceof Error ? error.message : String(error);
		return { input, result: scrub(failure('step_error', message, true)) };
	} finally {
		clearTimeout(timer);
		signal.removeEventListener('abort', abort);
		deps.deltas?.push(streamTarget, streamed.end());
		deps.deltas?.end(step.id);
	}
}

/** Whether executing `step` reads the outputs of the run's finished nodes (see NodeKind). */
export function readsOutputsOf(
	kind: Pick<AnyNodeKind, 'readsOutputs'> | undefined,
	step: Pick<ClaimedStep, 'state'>
): boolean {
	return kind?.readsOutputs?.(step.state) ?? true;
}

/** The run's data for a kind that said it would not read the node outputs: reading them throws. */
function withoutOutputs(input: unknown, kind: AnyNodeKind): StepContext['data'] {
	return {
		input,
		get steps(): never {
			throw new Error(
				`Node kind "${kind.kind}" said this execution reads no node outputs, but it read them.`
			);
		}
	};
}

/**
 * What PostgreSQL cannot store never reaches a commit, where it would fail on every attempt: each
 * U+0000 and lone surrogate in a result becomes U+FFFD, reported as a warning in the step's logs,
 * and a result nested too deeply to serialize fails the step once.
 */
export function storableResult(result: ExecutionResult): ExecutionResult {
	try {
		let replaced = 0;
		const fix = <T>(value: T): T => {
			const fixed = toStorable(value);
			replaced += fixed.replaced;
			return fixed.value;
		};
		let stored: ExecutionResult;
		if (result.type === 'succeeded') {
			stored = {
				...result,
				output: fix(result.output),
				branch: fix(result.branch),
				siblings: fix(result.siblings)
			};
		} else if (result.type === 'wait') {
			stored = { ...result, state: fix(result.state), effect: fix(result.effect) };
		} else stored = { ...result, error: fix(result.error) };
		const logs = fix(result.logs);
		if (replaced === 0) return { ...stored, logs };
		const warning: StepLogEntry = {
			level: 'warn',
			message: `${replaced} character${replaced === 1 ? '' : 's'} that cannot be stored (U+0000 or an unpaired surrogate) replaced by U+FFFD.`
		};
		return { ...stored, logs: [...(logs ?? []), warning] };
	} catch (error) {
		if (!(error instanceof RangeError)) throw error;
		return failure(
			'unstorable_result',
			'The step’s result is nested too deeply to be stored.',
			false
		);
	}
}

/**
 * The same on every attempt of a step, and different for every step: `run:node` for a node's own
 * step, `run:node:i` for iteration i of a map, and the child's path after that for a child step
 * (`run:node:t2:c1` for the second tool call of an agent's third turn).
 */
export function idempotencyKeyOf(
	step: Pick<ClaimedStep, 'runId' | 'nodeId' | 'iteration' | 'path'>
) {
	const key = `${step.runId}:${step.nodeId}${step.iteration < 0 ? '' : `:${step.iteration}`}`;
	return step.path === '' ? key : `${key}:${step.path.replaceAll(/[./]/g, ':')}`;
}

function failure(
	code: string,
	message: string,
	retryable: boolean
): Extract<ExecutionResult, { type: 'failed' }> {
	return { type: 'failed', error: { code, message, retryable }, retryable };
}

export function retryPolicyOf(node: Pick<WorkflowNode, 'retry'>): RetryPolicy {
	return node.retry ?? retryPolicySchema.parse({});
}

/** Exponential backoff; with jitter the delay is spread over its upper half. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
	const base = Math.min(
		policy.maxDelayMs,
		policy.initialDelayMs * policy.backoffFactor ** (attempt - 1)
	);
	return policy.jitter ? Math.round(base / 2 + (random() * base) / 2) : Math.round(base);
}

function createLookup(db: Db, step: ClaimedStep): StepLookup {
	return {
		async approval() {
			const result = await db.execute(sql`
				select status, comment, decided_by from approvals where step_id = ${step.id}
			`);
			const row = rows<{ status: string; comment: string; decided_by: string | null }>(result)[0];
			return row ? { status: row.status, comment: row.comment, decidedBy: row.decided_by } : null;
		},
		async childRun() {
			const result = await db.execute(sql`
				select id, status, output, error from runs where parent_step_id = ${step.id}
			`);
			const row = rows<{ id: string; status: string; output: unknown; error: RunError | null }>(
				result
			)[0];
			return row ?? null;
		},
		async iterations() {
			const result = await db.execute(sql`
				select status, output, error from run_steps
				where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration >= 0 and path = ''
				order by iteration
			`);
			return rows<{ status: string; output: unknown; error: RunError | null }>(result);
		},
		async children(path = step.path) {
			const under = path === '' ? '' : `${path}/`;
			const result = await db.execute(sql`
				select path, kind, status, input, output, error from run_steps
				where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration = ${step.iteration}
					and path <> ${path} and path like ${`${under}%`} and path not like ${`${under}%/%`}
				order by created_at, path
			`);
			return rows<ChildStep>(result);
		},
		async spending(scope = step.path) {
			const below = scope === '' ? '%' : `${scope}/%`;
			// The run's ledger rows, those of the scope's steps apart; the month from its running total.
			const result = await db.execute(sql`
				select r.*, coalesce(m.tokens, 0)::float8 as month_tokens,
					coalesce(m.cost_usd, 0)::float8 as month_cost,
					w.monthly_token_limit::float8 as token_limit, w.monthly_cost_limit_usd as cost_limit
				from workspaces w
				left join model_usage_months m on m.workspace_id = w.id
					and m.month = date_trunc('month', now() at time zone 'utc')::date
				cross join (
					select
						coalesce(sum(u.input_tokens + u.output_tokens) filter (where s.id is not null), 0)::float8
							as scope_tokens,
						coalesce(sum(u.cost_usd) filter (where s.id is not null), 0)::float8 as scope_cost,
						coalesce(sum(u.input_tokens + u.output_tokens), 0)::float8 as run_tokens,
						coalesce(sum(u.cost_usd), 0)::float8 as run_cost
					from model_usage u
					left join run_steps s on s.id = u.step_id and s.run_id = u.run_id
						and s.node_id = ${step.nodeId} and s.iteration = ${step.iteration}
						and (s.path = ${scope} or s.path like ${below})
					where u.run_id = ${step.runId}
				) r
				where w.id = ${step.workspaceId}
			`);
			const row = rows<{
				scope_tokens: number;
				scope_cost: number;
				run_tokens: number;
				run_cost: number;
				month_tokens: number;
				month_cost: number;
				token_limit: number | null;
				cost_limit: number | null;
			}>(result)[0];
			return {
				scope: { tokens: Number(row?.scope_tokens ?? 0), costUsd: Number(row?.scope_cost ?? 0) },
				run: { tokens: Number(row?.run_tokens ?? 0), costUsd: Number(row?.run_cost ?? 0) },
				month: { tokens: Number(row?.month_tokens ?? 0), costUsd: Number(row?.month_cost ?? 0) },
				monthlyTokenLimit: row?.token_limit == null ? null : Number(row.token_limit),
				monthlyCostLimitUsd: row?.cost_limit == null ? null : Number(row.cost_limit)
			};
		}
	};
}

/**
 * Records a step's result, its successors' readiness and its events in one transaction. The update
 * is fenced by the lease epoch: a worker that lost its lease gets StaleLeaseError and changes nothing.
 */
export async function commitStep(
	deps: StepRunnerDeps,
	step: ClaimedStep,
	input: unknown,
	result: ExecutionResult,
	claim: ClaimOnCommit | null = null
): Promise<{ events: RunEventMessage[]; claimed: ClaimedStep[] }> {
	const graph = await deps.loadGraph(step.versionId);
	return deps.db.transaction(async (tx) => {
		const log = new EventLog();
		const last: Promise<unknown>[] = [];
		const claimed = await record(tx, deps, graph, step, input, result, claim, log, last);
		// The ledger rows go with the events, in one round trip.
		const [events] = await inOrder(log.write(tx), Promise.allSettled(last));
		return { events, claimed };
	});
}

/**
 * A woken parent whose kind resumes inline is executed at once, within the commit of the child
 * that woke it, and its result recorded there too: one commit, and no other worker's claim, per
 * decision it makes between its children.
 */
async function resumeInline(
	tx: Db,
	deps: StepRunnerDeps,
	graph: WorkflowGraph,
	parent: ClaimedStep,
	claim: ClaimOnCommit | null,
	log: EventLog,
	last: Promise<unknown>[]
): Promise<ClaimedStep[]> {
	// Its lookups read this transaction: the child's result is not committed yet. Nothing it does
	// may wait for another connection (the embedded database has one): its run's graph is this one.
	const inTx: StepRunnerDeps = { ...deps, db: tx, loadGraph: () => Promise.resolve(graph) };
	const { result, input } = await executeStep(inTx, parent, new AbortController().signal);
	return record(tx, deps, graph, parent, input, result, claim, log, last);
}

/** Whether a claimed step is a parent woken by its children that its kind resumes inline. */
function resumesInline(deps: StepRunnerDeps, step: ClaimedStep): boolean {
	return step.claimedFrom === 'waiting' && deps.kinds.get(step.kind)?.resumeInline === true;
}

/** commitStep's work within its transaction; returns the steps claimed for the worker. */
async function record(
	tx: Db,
	deps: StepRunnerDeps,
	graph: WorkflowGraph,
	step: ClaimedStep,
	input: unknown,
	result: ExecutionResult,
	claim: ClaimOnCommit | null,
	log: EventLog,
	last: Promise<unknown>[]
): Promise<ClaimedStep[]> {
	const node = nodeForStep(graph, step);
	const child = step.path !== '';
	const fencing = lockRunAndFence(tx, step, input, result, node ? retryPolicyOf(node) : null, deps);
	// What this commit does whatever else the run holds is sent right behind the statement that
	// locks the run, and runs once the lock is held: one round trip for both. Should the lock find
	// the run ended or the lease lost, it is rolled back with the rest.
	const ahead = sentAhead(tx, step, result, claim);
	const [fenced] = await inOrder(fencing, ahead.done);
	if (fenced === null) throw new StaleLeaseError('the run has ended');
	const { run, set } = fenced;
	if (set === 'stale') throw new StaleLeaseError('the lease was taken over');
	const at = { stepId: step.id, nodeId: step.nodeId };
	if (result.logs?.length) {
		log.add(run.id, run.workspace_id, {
			...at,
			type: 'step.logs',
			data: { entries: result.logs }
		});
	}
	// Read after the run lock: every commit of this run before ours is visible. With a claim,
	// the outputs come along for the steps it may take. A map iteration, a child step or a step
	// that parks decides nothing from the run's other steps: only the node outputs are read, for
	// the steps it may claim that read them.
	const snapshot = (await ahead.snapshot) ?? null;
	let claimed: ClaimedStep[] = [];
	let outputs: FinishedStep[] | undefined;
	const finished = async () =>
		snapshot === null
			? (outputs ??= await succeededOutputs(tx, run.id))
			: snapshot.withOutputs
				? finishedSteps(snapshot.all)
				: undefined;
	// Child work this commit makes due is claimed for this worker while slots are free.
	let childWorkDue = false;
	const claimLeft = () =>
		claim === null ? null : { ...claim, limit: claim.limit - claimed.length };
	const adopt = async (work: ChildWork) => {
		if (work.due === 0) return;
		childWorkDue = true;
		// Steps that will not read them get none: they are not loaded for them.
		const reading = work.claimed.some((row) => readsOutputsOf(deps.kinds.get(row.kind), row));
		const given = reading ? await finished() : undefined;
		claimed = [...claimed, ...claimedChildren(run, work, given, log)];
	};
	// A child's parent decides what its result means, woken when the last child finished.
	const wakeParent = async () => adopt(await childFinished(tx, step, claimLeft()));
	const iteration = {
		...(step.iteration >= 0 && { iteration: step.iteration }),
		...(child && { path: step.path, kind: step.kind })
	};
	if (result.type === 'succeeded') {
		log.add(run.id, run.workspace_id, {
			...at,
			type: 'step.succeeded',
			data: { ...iteration, branch: result.branch ?? null }
		});
		// Siblings it created are still to do, so the parent cannot be woken yet; siblings that
		// were there already (the step ran before) may all be finished.
		const siblings = (await ahead.siblings) ?? null;
		if (siblings !== null) await adopt(siblings);
		if (child) {
			if (siblings === null) await adopt(await (ahead.woken as Promise<ChildWork>));
			else if (siblings.due === 0) await wakeParent();
		} else if (step.iteration >= 0) await iterationFinished(tx, step, false, log);
		else {
			const steps = snapshot ?? undefined;
			claimed = await propagate(tx, run, graph, step.nodeId, log, { steps, claim });
		}
	} else if (result.type === 'wait') {
		log.add(run.id, run.workspace_id, {
			...at,
			type: 'step.waiting',
			data: { ...iteration, until: result.until?.toISOString() ?? null }
		});
		// Effects are idempotent: a step may ask for one each time it parks (a tool call first
		// for an approval, then for a child run), and asking again changes nothing.
		if (result.effect?.type === 'children') {
			await adopt(await (ahead.children as Promise<ChildWork>));
		} else if (result.effect) {
			const problem = await applyWaitEffect(tx, run, step, result.effect, graph, log);
			if (problem !== null) {
				await tx.execute(sql`
					update run_steps set status = 'failed', error = ${JSON.stringify(problem)}::jsonb, due_at = null,
						finished_at = clock_timestamp()
					where id = ${step.id}
				`);
				log.add(run.id, run.workspace_id, {
					...at,
					type: 'step.failed',
					data: { ...iteration, error: problem }
				});
				if (child) await wakeParent();
				else await finishRun(tx, run, 'failed', { ...problem, nodeId: step.nodeId }, log);
			}
		}
	} else if (set === 'retrying') {
		log.add(run.id, run.workspace_id, {
			...at,
			type: 'step.retrying',
			data: { ...iteration, attempt: step.attempt, error: result.error }
		});
	} else {
		log.add(run.id, run.workspace_id, {
			...at,
			type: 'step.failed',
			data: { ...iteration, attempt: step.attempt, error: result.error }
		});
		if (child) await wakeParent();
		else if (step.iteration >= 0) await iterationFinished(tx, step, true, log);
		else await finishRun(tx, run, 'failed', { ...result.error, nodeId: step.nodeId }, log);
	}
	if (isActiveRun(run.status)) {
		// Iterations and wait effects change rows the snapshot does not track: read them again,
		// unless this commit made child work due (then the run is busy whatever else it holds).
		const made = childWorkDue ? 'busy' : undefined;
		const fresh = snapshot === null || result.type === 'wait' ? made : snapshot;
		await settleRun(tx, run, graph, log, fresh);
	}
	const parent = claimed.find((next) => resumesInline(deps, next));
	if (parent !== undefined) {
		const others = claimed.filter((next) => next !== parent);
		const left = claim === null ? null : { ...claim, limit: claim.limit - others.length };
		claimed = [...others, ...(await resumeInline(tx, deps, graph, parent, left, log, last))];
	}
	// Last, so the workspace's month row is locked only for the moment before the commit.
	if ((result.type === 'succeeded' || result.type === 'failed') && result.usage?.length) {
		const written = recordUsage(tx, run, step, result.usage);
		// Awaited with the event log; a failure meanwhile is not left unhandled.
		written.catch(() => {});
		last.push(written);
	}
	return claimed;
}

/** The statements a commit sends behind its run lock, known from the result alone. */
function sentAhead(
	tx: Db,
	step: ClaimedStep,
	result: ExecutionResult,
	claim: ClaimOnCommit | null
) {
	const run = { id: step.runId, workspace_id: step.workspaceId };
	const child = step.path !== '';
	const siblings =
		child && result.type === 'succeeded' && result.siblings?.length
			? createChildren(tx, run, { ...step, path: parentPath(step.path) }, result.siblings, claim)
			: undefined;
	const ahead = {
		// A node step that does not park decides from the run's other steps.
		snapshot:
			isNodeStep(step) && result.type !== 'wait'
				? loadSteps(tx, step.runId, claim !== null)
				: undefined,
		siblings,
		// A child that succeeded making no siblings may be the last: its parent is woken if so.
		woken:
			child && result.type === 'succeeded' && siblings === undefined
				? childFinished(tx, step, claim)
				: undefined,
		children:
			result.type === 'wait' && result.effect?.type === 'children'
				? createChildren(tx, run, step, result.effect.children, claim)
				: undefined
	};
	const sent: Promise<unknown>[] = Object.values(ahead).filter((work) => work !== undefined);
	return { ...ahead, done: Promise.allSettled(sent) };
}

/**
 * Awaits the statement sent first and those sent behind it; the first one's failure is the one
 * thrown (those behind it fail only because the transaction did).
 */
async function inOrder<T>(first: Promise<T>, behind: Promise<PromiseSettledResult<unknown>[]>) {
	const [settled] = await Promise.allSettled([first, behind]);
	if (settled.status === 'rejected') throw settled.reason;
	const failed = (await behind).find((result) => result.status === 'rejected');
	if (failed !== undefined) throw failed.reason;
	return [settled.value] as const;
}

/**
 * Locks the run and records the step's result in one statement, fenced by the lease epoch: null when
 * the run has ended, `stale` when another worker has taken the step over since we claimed it.
 */
async function lockRunAndFence(
	tx: Db,
	step: ClaimedStep,
	input: unknown,
	result: ExecutionResult,
	policy: RetryPolicy | null,
	deps: StepRunnerDeps
): Promise<{ run: RunRow; set: 'stale' | 'done' | 'retrying' } | null> {
	// Inputs come from stored outputs and checked run inputs; the rule is applied again all the same.
	const inputJson = storableJson(input).json;
	let update;
	let outcome: 'done' | 'retrying' = 'done';
	if (result.type === 'succeeded') {
		update = sql`status = 'succeeded', output = ${JSON.stringify(result.output ?? null)}::jsonb,
			branch = ${result.branch ?? null}, error = null, due_at = null, finished_at = clock_timestamp()`;
	} else if (result.type === 'wait') {
		update = sql`status = 'waiting', state = ${JSON.stringify(result.state)}::jsonb,
			due_at = ${result.until?.toISOString() ?? null}::timestamptz`;
	} else if (result.retryable && policy !== null && step.attempt < policy.maxAttempts) {
		const delay = retryDelayMs(policy, step.attempt, deps.random);
		update = sql`status = 'ready', error = ${JSON.stringify(result.error)}::jsonb,
			due_at = clock_timestamp() + make_interval(secs => ${delay / 1000})`;
		outcome = 'retrying';
	} else {
		update = sql`status = 'failed', error = ${JSON.stringify(result.error)}::jsonb, due_at = null,
			finished_at = clock_timestamp()`;
	}
	const found = await tx.execute(sql`
		with run as (
			select id, workspace_id, workflow_id, version_id, status, input, parent_step_id, parent_run_id
			from runs where id = ${step.runId} for update
		),
		fenced as (
			update run_steps set ${update}, input = ${inputJson}::jsonb, leased_by = null
			where id = ${step.id} and lease_epoch = ${step.leaseEpoch} and status = 'running'
				and exists (select 1 from run where status in (${activeRunStatusList}))
			returning id
		)
		select run.*, (select count(*)::int from fenced) as fenced from run
	`);
	const row = rows<RunRow & { fenced: number }>(found)[0];
	if (!row || !isActiveRun(row.status)) return null;
	const { fenced, ...run } = row;
	return { run, set: fenced === 0 ? 'stale' : outcome };
}

/** An iteration of a map finished: start the next pending one, and wake the map when none is left. */
async function iterationFinished(
	tx: Db,
	step: ClaimedStep,
	failed: boolean,
	log: EventLog
): Promise<void> {
	if (failed) {
		await tx.execute(sql`
			update run_steps set status = 'cancelled', finished_at = clock_timestamp()
			where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration >= 0 and path = ''
				and status = 'pending'
		`);
	} else {
		await tx.execute(sql`
			update run_steps set status = 'ready', due_at = clock_timestamp()
			where id = (
				select id from run_steps
				where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration >= 0 and path = ''
					and status = 'pending'
				order by iteration limit 1
			)
		`);
	}
	const active = await tx.execute(sql`
		select count(*)::int as n from run_steps
		where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration >= 0 and path = ''
			and status in ('pending', 'ready', 'running', 'waiting')
	`);
	if ((rows<{ n: number }>(active)[0]?.n ?? 0) === 0) {
		await tx.execute(sql`
			update run_steps set due_at = clock_timestamp()
			where run_id = ${step.runId} and node_id = ${step.nodeId} and iteration = -1 and path = ''
				and status = 'waiting'
		`);
	}
	log.wake = true;
}

/**
 * Writes the step's model requests to the cost ledger, priced by the price table as it stands now
 * (a model without a price costs 0 and is marked unpriced), and adds them to the workspace's month.
 */
async function recordUsage(
	tx: Db,
	run: RunRow,
	step: ClaimedStep,
	usage: ModelUsageRecord[]
): Promise<void> {
	await tx.execute(sql`
		with recorded as (
		insert into model_usage (workspace_id, run_id, step_id, workflow_id, provider_id, provider_kind, model,
			input_tokens, output_tokens, cached_input_tokens, duration_ms, cost_usd, priced)
		select ${run.workspace_id}::uuid, ${run.id}::uuid, ${step.id}::uuid, ${run.workflow_id}::uuid,
			u."providerId", u."providerKind", u.model, u."inputTokens", u."outputTokens", u."cachedInputTokens",
			u."durationMs",
			coalesce((greatest(u."inputTokens" - u."cachedInputTokens", 0) * p.input_per_million
				+ u."cachedInputTokens" * coalesce(p.cached_input_per_million, p.input_per_million)
				+ u."outputTokens" * p.output_per_million) / 1e6, 0),
			p.model is not null
		from jsonb_to_recordset(${JSON.stringify(usage)}::jsonb) as u("providerId" uuid, "providerKind" text,
			model text, "inputTokens" int, "outputTokens" int, "cachedInputTokens" int, "durationMs" int)
		left join model_prices p on p.provider_kind = u."providerKind" and p.model = u.model
		returning workspace_id, created_at, input_tokens + output_tokens as tokens, cost_usd
		)
		insert into model_usage_months as m (workspace_id, month, tokens, cost_usd, requests)
		select workspace_id, date_trunc('month', created_at at time zone 'utc')::date, sum(tokens),
			sum(cost_usd), count(*)
		from recorded group by 1, 2
		on conflict (workspace_id, month) do update set tokens = m.tokens + excluded.tokens,
			cost_usd = m.cost_usd + excluded.cost_usd, requests = m.requests + excluded.requests
	`);
}
