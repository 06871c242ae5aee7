import { cancelChannel, type RunEventMessage } from '../channels.ts';
import { publishEvents } from '../bus/run-events.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Database } from '../db/index.ts';
import {
	claimDueSteps,
	extendLeases,
	nextDueAt,
	stepsChannel,
	isNodeStep,
	type ClaimedStep,
	type RunSnapshot
} from '../db/run-queue.ts';
import { databaseMessage, isPermanentDataError, sqlState } from '../db/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { DeltaPublisher } from '../bus/deltas.ts';
import type { EventBus } from '../bus/bus.ts';
import type { KindRegistry, WorkflowGraph } from './definition.ts';
import { failOverdueRuns } from './run-control.ts';
import { offerRunsTo, type IntakeWorker } from './run-intake.ts';
import { chainCommits, planCommit, writeCommits, type PlannedCommit } from './fast-commit.ts';
import {
	StaleLeaseError,
	commitStep,
	executeStep,
	type ExecutionResult,
	type StepRunnerDeps
} from './step-runner.ts';
import { createGraphLoader, type ClaimOnCommit } from './transitions.ts';

export interface WorkerOptions {
	database: Database;
	bus: EventBus;
	kinds: KindRegistry;
	logger: Logger;
	/** Steps executed at once by this worker. */
	concurrency?: number;
	leaseMs?: number;
	/** The fallback when no notification arrives; wake-ups normally come from LISTEN/NOTIFY. */
	pollMs?: number;
	/** Runs on every poll, e.g. the schedule ticker. */
	onPoll?: () => Promise<void>;
	/** Decide common commits in memory and group them (default); off, every commit is a transaction. */
	inMemoryCommits?: boolean;
	workerId?: string;
}

type Committed = { events: RunEventMessage[]; claimed: ClaimedStep[] };

interface CommitRequest {
	step: ClaimedStep;
	input: unknown;
	result: Extract<ExecutionResult, { type: 'succeeded' }>;
	claimLimit: number;
	/** Null: the commit was not written, the transactional path must record it. */
	resolve(committed: Committed | null): void;
}

// Runs whose latest state this worker knows, for commits decided in memory.
const maxSnapshots = 10_000;
// Inline steps one commit executes at most, and the time they may take together, so that a long
// or slow chain holds up neither the other commits nor a run's creation.
const maxChain = 16;
const inlineBudgetMs = 50;

/**
 * Claims due steps from the Postgres queue and executes them, heartbeating their leases. Wakes on
 * NOTIFY (sent by every commit that makes a step ready), on its own completions, when the next
 * parked step falls due, and otherwise every `pollMs`.
 */
export class Worker {
	readonly id: string;
	/** How step results were recorded: decided in memory and group-committed, or in a transaction. */
	readonly commits = { inMemory: 0, transactional: 0 };
	readonly #options: Required<Omit<WorkerOptions, 'onPoll' | 'workerId'>> &
		Pick<WorkerOptions, 'onPoll'>;
	readonly #deps: StepRunnerDeps;
	readonly #inFlight = new Map<
		string,
		{ step: ClaimedStep; controller: AbortController; done: Promise<void> }
	>();
	#running = false;
	/** Steps executing now: what `concurrency` bounds (committing ones no longer count). */
	#executing = 0;
	/** Claim slots promised to commits in progress (they may claim successors). */
	#reserved = 0;
	/** Set when work may be waiting that we could not take (we were full, or a batch came back full). */
	#backlog = false;
	#filling: Promise<void> | null = null;
	#refill = false;
	#timer: NodeJS.Timeout | undefined;
	#heartbeat: NodeJS.Timeout | undefined;
	#maintenance: NodeJS.Timeout | undefined;
	#cleanups: (() => Promise<void>)[] = [];
	/** The runs this worker last claimed or committed steps of, as they were then. */
	readonly #snapshots = new Map<string, RunSnapshot>();
	#commitQueue: CommitRequest[] = [];
	/** What runs created in this process hand their first steps to (see run-intake.ts). */
	readonly #intake: IntakeWorker;
	#writing: Promise<void> | null = null;

	constructor(options: WorkerOptions) {
		this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
		this.#options = {
			concurrency: 4,
			leaseMs: 30_000,
			pollMs: 5_000,
			inMemoryCommits: true,
			...options
		};
		this.#intake = {
			id: this.id,
			leaseMs: this.#options.leaseMs,
			running: () => this.#running,
			reserve: (wanted) => {
				if (!this.#running) return 0;
				const { concurrency } = this.#options;
				const granted = Math.min(
					wanted,
					Math.max(0, concurrency - this.#executing - this.#reserved)
				);
				this.#reserved += granted;
				return granted;
			},
			adopt: (snapshot, steps, slots) => {
				this.#reserved -= slots;
				// A worker stopping meanwhile leaves them to their leases, as it does claims of commits.
				if (!this.#running) return;
				this.#remember(snapshot);
				for (const step of steps) this.#start(step);
			},
			release: (slots) => {
				this.#reserved -= slots;
				if (this.#backlog) this.wake();
			},
			inlineNodes: (graph) => this.#inlineNodes(graph),
			executeInline: async (graph, snapshot, step, slots) => {
				const claim = this.#claimFor(graph, slots);
				if (claim?.inline === undefined) return null;
				const deadline = performance.now() + inlineBudgetMs;
				const plan = await this.#executeAndPlan(snapshot, graph, step, claim, deadline);
				return plan && this.#chain(plan, graph, claim, deadline);
			}
		};
		this.#deps = {
			db: options.database.db,
			kinds: options.kinds,
			loadGraph: createGraphLoader(options.database.db),
			now: () => new Date(),
			random: Math.random,
			deltas: new DeltaPublisher(options.bus, {
				onError: (error) => options.logger.warn({ err: error }, 'publishing streamed output failed')
			})
		};
	}

	get activeSteps(): number {
		return this.#inFlight.size;
	}

	async start(): Promise<void> {
		this.#running = true;
		const { database, bus } = this.#options;
		this.#cleanups.push(await database.listen(stepsChannel, () => this.wake()));
		const withdraw = offerRunsTo(database.db, this.#intake);
		this.#cleanups.push(async () => withdraw());
		this.#cleanups.push(
			await bus.subscribe(cancelChannel, (message) => {
				const runId = (message as { runId?: unknown }).runId;
				for (const { step, controller } of this.#inFlight.values()) {
					if (step.runId === runId) controller.abort(new StaleLeaseError('the run was cancelled'));
				}
			})
		);
		this.#heartbeat = setInterval(() => void this.#extendLeases(), this.#options.leaseMs / 3);
		this.#maintenance = setInterval(() => void this.#maintain(), this.#options.pollMs);
		void this.#maintain();
		this.wake();
	}

	/** Looks for work now (coalesced: at most one claim loop runs at a time). */
	wake(): void {
		if (!this.#running) return;
		if (this.#filling) {
			this.#refill = true;
			return;
		}
		this.#filling = this.#fill()
			.catch((error: unknown) =>
				this.#options.logger.error({ err: error }, 'claiming steps failed')
			)
			.finally(() => {
				this.#filling = null;
				if (this.#refill) {
					this.#refill = false;
					this.wake();
				}
			});
	}

	async #fill(): Promise<void> {
		const { concurrency, leaseMs, pollMs } = this.#options;
		while (this.#running) {
			const free = concurrency - this.#executing - this.#reserved;
			if (free <= 0) {
				this.#backlog = true;
				return;
			}
			const claimed = await claimDueSteps(this.#deps.db, {
				workerId: this.id,
				limit: free,
				leaseMs
			});
			for (const step of claimed) {
				if (step.snapshot) this.#remember(step.snapshot);
				else this.#snapshots.delete(step.runId);
				this.#start(step);
			}
			this.#backlog = claimed.length === free;
			if (!this.#backlog) break;
		}
		if (!this.#running) return;
		// Busy workers are woken by their own completions; an idle one sleeps until the next due step.
		const next = this.#inFlight.size === 0 ? await nextDueAt(this.#deps.db) : null;
		const delay =
			next === null ? pollMs : Math.max(0, Math.min(pollMs, next.getTime() - Date.now()));
		clearTimeout(this.#timer);
		this.#timer = setTimeout(() => this.wake(), delay);
	}

	async #maintain(): Promise<void> {
		try {
			await this.#options.onPoll?.();
			const events = await failOverdueRuns(this.#deps.db);
			await publishEvents(this.#options.bus, events);
		} catch (error) {
			this.#options.logger.error({ err: error }, 'engine maintenance failed');
		}
	}

	#start(step: ClaimedStep): void {
		const controller = new AbortController();
		this.#executing += 1;
		const done = this.#run(step, controller.signal).finally(() => {
			this.#inFlight.delete(step.id);
			// More work waited while we were full, or we just went idle and must re-arm the timer.
			if (this.#backlog || this.#inFlight.size === 0) this.wake();
		});
		this.#inFlight.set(step.id, { step, controller, done });
	}

	async #run(step: ClaimedStep, signal: AbortSignal): Promise<void> {
		const { logger, bus } = this.#options;
		const log = logger.child({ runId: step.runId, stepId: step.id, nodeId: step.nodeId });
		try {
			let executed;
			try {
				executed = await executeStep(this.#deps, step, signal);
			} finally {
				this.#executing -= 1;
			}
			const { result, input } = executed;
			// Successors this commit makes ready are claimed by it, up to the slots free by then;
			// a stopping worker leaves them to others rather than abandon them to a lease. So are
			// the children a parent makes, and the parent a finished child wakes.
			const successors = await this.#claimable(step, result);
			const limit = this.#running
				? Math.min(
						successors,
						Math.max(0, this.#options.concurrency - this.#executing - this.#reserved)
					)
				: 0;
			this.#reserved += limit;
			// The slots left over take new work while this result is being committed.
			if (this.#backlog) this.wake();
			let committed;
			try {
				committed =
					(await this.#commitInMemory(step, input, result, limit)) ??
					(await this.#commitWithRetries(step, input, result, signal, limit).catch(
						(error: unknown) => this.#commitRefusedResult(step, input, error, signal)
					));
			} finally {
				this.#reserved -= limit;
			}
			for (const next of committed.claimed) this.#start(next);
			// Results are scrubbed of concealed values before they get here.
			if (result.type === 'failed') {
				log.info({ attempt: step.attempt, error: result.error }, 'step failed');
			} else log.debug({ outcome: result.type }, 'step finished');
			await publishEvents(bus, committed.events).catch((error: unknown) =>
				log.warn({ err: error }, 'publishing run events failed')
			);
		} catch (error) {
			if (error instanceof StaleLeaseError || signal.aborted) {
				log.warn(
					{ reason: error instanceof Error ? error.message : String(error) },
					'step result dropped: lease lost'
				);
			} else {
				log.error(
					{ err: error },
					'step execution failed; its lease will expire and it will run again'
				);
			}
		}
	}

	/** How many steps the commit of this result may make due for this worker to claim. */
	async #claimable(step: ClaimedStep, result: ExecutionResult): Promise<number> {
		if (result.type === 'succeeded' && isNodeStep(step))
			return (await this.#deps.loadGraph(step.versionId)).outgoing.get(step.nodeId)?.length ?? 0;
		if (result.type === 'wait')
			return result.effect?.type === 'children' ? result.effect.children.length : 0;
		// A child that finished may make siblings, or else wake its parent.
		if (step.path === '') return 0;
		return result.type === 'succeeded' ? Math.max(1, result.siblings?.length ?? 0) : 1;
	}

	#remember(snapshot: RunSnapshot): void {
		this.#snapshots.delete(snapshot.run.id);
		if (this.#snapshots.size >= maxSnapshots) {
			this.#snapshots.delete(this.#snapshots.keys().next().value as string);
		}
		this.#snapshots.set(snapshot.run.id, snapshot);
	}

	/**
	 * A succeeded node step of a run whose state we know is decided in memory and written with
	 * others in one statement (group commit): commits that arrive while one is being written wait
	 * for it and go together in the next. Resolves null when the transactional path must do it.
	 */
	#commitInMemory(
		step: ClaimedStep,
		input: unknown,
		result: ExecutionResult,
		claimLimit: number
	): Promise<Committed | null> {
		if (
			!this.#options.inMemoryCommits ||
			result.type !== 'succeeded' ||
			// The ledger rows of model requests are written by the transactional path.
			result.usage !== undefined ||
			!isNodeStep(step) ||
			!this.#snapshots.has(step.runId)
		) {
			this.#snapshots.delete(step.runId);
			return Promise.resolve(null);
		}
		return new Promise((resolve) => {
			this.#commitQueue.push({ step, input, result, claimLimit, resolve });
			if (this.#writing === null) this.#writing = this.#writeCommits();
		});
	}

	async #writeCommits(): Promise<void> {
		// Completions of the same moment join the first write; later ones gather while it is written.
		await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
		try {
			while (this.#commitQueue.length > 0) await this.#writeBatch();
		} finally {
			// No await between the last look at the queue and this: a request queued later finds no
			// writer and starts one, instead of waiting for one that has already finished.
			this.#writing = null;
		}
	}

	async #writeBatch(): Promise<void> {
		// One commit per run per statement: a second one is decided from the state the first leaves.
		const batch: CommitRequest[] = [];
		const later: CommitRequest[] = [];
		const runs = new Set<string>();
		for (const request of this.#commitQueue) {
			(runs.has(request.step.runId) ? later : batch).push(request);
			runs.add(request.step.runId);
		}
		this.#commitQueue = later;
		const planned: { request: CommitRequest; plan: PlannedCommit }[] = [];
		try {
			// Planned side by side: the inline steps one commit executes do not wait for another's.
			const deadline = performance.now() + inlineBudgetMs;
			const plans = await Promise.all(
				batch.map(async (request) => {
					const snapshot = this.#snapshots.get(request.step.runId);
					const { step, input, result, claimLimit } = request;
					const graph = await this.#deps.loadGraph(step.versionId);
					const claim = this.#claimFor(graph, claimLimit);
					const plan = snapshot && (await planCommit(snapshot, graph, step, input, result, claim));
					if (!plan) {
						this.#fallBack(request);
						return null;
					}
					return { request, plan: await this.#chain(plan, graph, claim, deadline) };
				})
			);
			for (const entry of plans) if (entry !== null) planned.push(entry);
			if (planned.length === 0) return;
			const written = await writeCommits(
				this.#deps.db,
				planned.map(({ plan }) => plan),
				{ workerId: this.id, leaseMs: this.#options.leaseMs }
			);
			for (const { request, plan } of planned) {
				const events = written.get(plan.runId);
				if (!events) {
					this.#fallBack(request);
					continue;
				}
				if (plan.next) this.#remember(plan.next);
				else this.#snapshots.delete(plan.runId);
				this.commits.inMemory += 1;
				request.resolve({ events, claimed: plan.claimed });
			}
		} catch (error) {
			// Whether it was written or not, the transactional path finds out (fencing).
			this.#options.logger.warn({ err: error }, 'group commit failed; committing one by one');
			for (const { request } of planned) this.#fallBack(request);
			for (const request of batch) request.resolve(null);
		}
	}

	/**
	 * What a commit claims for this worker: up to `limit` successors, and, while the worker runs, the
	 * inline ones (see NodeKind) beyond that, which the commit executes itself (see #chain).
	 */
	#claimFor(graph: WorkflowGraph, limit: number): ClaimOnCommit | null {
		const claim = { workerId: this.id, leaseMs: this.#options.leaseMs, limit };
		// Inline steps are recorded by commits decided in memory only.
		if (!this.#running || !this.#options.inMemoryCommits) return limit > 0 ? claim : null;
		return { ...claim, inline: this.#inlineNodes(graph) };
	}

	#inlineNodes(graph: WorkflowGraph): (nodeId: string) => boolean {
		if (!this.#options.inMemoryCommits) return () => false;
		return (nodeId) => {
			const node = graph.nodes.get(nodeId);
			return node !== undefined && this.#deps.kinds.get(node.kind)?.inline === true;
		};
	}

	/**
	 * Executes the inline steps a planned commit claims for us at once, and records them in the same
	 * commit: a chain such as transform → output takes one commit, not one each. A step that does not
	 * simply succeed is left claimed, to be executed on its own as usual (beyond `concurrency`, if
	 * it was claimed beyond it: inline steps are quick).
	 */
	async #chain(
		plan: PlannedCommit,
		graph: WorkflowGraph,
		claim: ClaimOnCommit | null,
		deadline: number
	): Promise<PlannedCommit> {
		if (claim?.inline === undefined) return plan;
		const { inline } = claim;
		for (let depth = 0; depth < maxChain && plan.next !== null; depth += 1) {
			const step = plan.claimed.find((claimed) => isNodeStep(claimed) && inline(claimed.nodeId));
			if (step === undefined) break;
			// The slots taken by the steps claimed so far that are not inline are no longer free.
			const taken = plan.claimed.filter((claimed) => !inline(claimed.nodeId)).length;
			const limit = Math.max(0, claim.limit - taken);
			const next = await this.#executeAndPlan(
				plan.next,
				graph,
				step,
				{ ...claim, limit },
				deadline
			);
			if (next === null) break;
			plan = chainCommits(plan, next);
		}
		return plan;
	}

	/**
	 * Executes inline `step` and plans recording its result on `snapshot` (see planCommit): null when
	 * it did not simply succeed by `deadline`, or the snapshot cannot decide it.
	 */
	async #executeAndPlan(
		snapshot: RunSnapshot,
		graph: WorkflowGraph,
		step: ClaimedStep,
		claim: ClaimOnCommit,
		deadline: number
	): Promise<PlannedCommit | null> {
		const executed = await this.#executeInline(step, deadline);
		if (executed === null) return null;
		return planCommit(snapshot, graph, step, executed.input, executed.result, claim);
	}

	/**
	 * Executes an inline step by `deadline` (a performance.now() time): null when it did not simply
	 * succeed by then. A step that takes longer (an expression can take up to its own time limit)
	 * is abandoned, to be executed again on its own, so that it holds up no commit.
	 */
	async #executeInline(
		step: ClaimedStep,
		deadline: number
	): Promise<{ input: unknown; result: Extract<ExecutionResult, { type: 'succeeded' }> } | null> {
		const left = deadline - performance.now();
		if (left <= 0) return null;
		const controller = new AbortController();
		const timer = setTimeout(
			() => controller.abort(new StaleLeaseError('the inline step took too long')),
			left
		);
		try {
			const { input, result } = await executeStep(this.#deps, step, controller.signal);
			return result.type === 'succeeded' && result.usage === undefined ? { input, result } : null;
		} catch {
			return null;
		} finally {
			clearTimeout(timer);
		}
	}

	#fallBack(request: CommitRequest): void {
		this.#snapshots.delete(request.step.runId);
		request.resolve(null);
	}

	/** A commit that fails on a lost connection is retried while the lease lasts: fencing keeps it safe. */
	async #commitWithRetries(
		step: ClaimedStep,
		input: unknown,
		result: Awaited<ReturnType<typeof executeStep>>['result'],
		signal: AbortSignal,
		claimLimit: number
	): Promise<Awaited<ReturnType<typeof commitStep>>> {
		const deadline = Date.now() + this.#options.leaseMs;
		const claim =
			claimLimit > 0
				? { workerId: this.id, leaseMs: this.#options.leaseMs, limit: claimLimit }
				: null;
		for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
			try {
				const committed = await commitStep(this.#deps, step, input, result, claim);
				this.commits.transactional += 1;
				return committed;
			} catch (error) {
				if (
					error instanceof StaleLeaseError ||
					isPermanentDataError(error) ||
					signal.aborted ||
					Date.now() + delay > deadline
				)
					throw error;
				this.#options.logger.warn({ err: error, stepId: step.id }, 'commit failed; retrying');
				await new Promise((resolve) => setTimeout(resolve, delay));
			}
		}
	}

	/**
	 * A result the database refuses (class 22 or 54: it would be refused on every attempt) fails its
	 * step once, saying why, instead of leaving it to run again after each lease expiry.
	 */
	async #commitRefusedResult(
		step: ClaimedStep,
		input: unknown,
		error: unknown,
		signal: AbortSignal
	): Promise<Awaited<ReturnType<typeof commitStep>>> {
		if (!isPermanentDataError(error)) throw error;
		this.#options.logger.warn(
			{ stepId: step.id, sqlState: sqlState(error), reason: databaseMessage(error) },
			'the database refused a step result; failing the step'
		);
		const refused: ExecutionResult = {
			type: 'failed',
			error: {
				code: 'unstorable_result',
				message: `The step's result could not be stored: ${databaseMessage(error)}`,
				retryable: false
			},
			retryable: false
		};
		return this.#commitWithRetries(step, input, refused, signal, 0);
	}

	async #extendLeases(): Promise<void> {
		const held = [...this.#inFlight.values()].map(({ step }) => ({
			id: step.id,
			leaseEpoch: step.leaseEpoch
		}));
		try {
			const lost = await extendLeases(this.#deps.db, held, this.#options.leaseMs);
			for (const id of lost) {
				this.#inFlight.get(id)?.controller.abort(new StaleLeaseError('the lease was lost'));
			}
		} catch (error) {
			this.#options.logger.warn({ err: error }, 'heartbeat failed');
		}
	}

	/** Stops claiming, lets in-flight steps finish for up to `graceMs`, then abandons them to their leases. */
	async stop(graceMs = 10_000): Promise<void> {
		this.#running = false;
		clearTimeout(this.#timer);
		clearInterval(this.#maintenance);
		await this.#filling;
		const all = Promise.all([...this.#inFlight.values()].map(({ done }) => done));
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
		clearTimeout(timer);
		for (const { controller } of this.#inFlight.values())
			controller.abort(new StaleLeaseError('worker stopping'));
		clearInterval(this.#heartbeat);
		clearInterval(this.#maintenance);
		this.#deps.deltas?.close();
		for (const cleanup of this.#cleanups.splice(0)) await cleanup().catch(() => {});
	}
}
