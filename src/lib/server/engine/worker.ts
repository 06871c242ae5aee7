import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/index.ts';
import {
	claimDueSteps,
	extendLeases,
	nextDueAt,
	stepsChannel,
	type ClaimedStep
} from '../db/run-queue.ts';
import type { Logger } from '../platform/logger.ts';
import type { EventBus } from '../realtime/bus.ts';
import type { KindRegistry } from './definition.ts';
import { failOverdueRuns } from './run-control.ts';
import { StaleLeaseError, commitStep, executeStep, type StepRunnerDeps } from './step-runner.ts';
import { createGraphLoader, type RunEventMessage } from './transitions.ts';

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
	workerId?: string;
}

export const runChannel = (runId: string) => `run:${runId}`;
export const workspaceRunsChannel = (workspaceId: string) => `workspace-runs:${workspaceId}`;
export const cancelChannel = 'engine:cancel';

/** Publishes committed events for live views; the database already holds them. */
export async function publishEvents(bus: EventBus, events: RunEventMessage[]): Promise<void> {
	for (const event of events) {
		await bus.publish(runChannel(event.runId), event);
		if (event.type.startsWith('run.'))
			await bus.publish(workspaceRunsChannel(event.workspaceId), event);
		// Workers executing a step of a run that just ended abort it instead of waiting for a heartbeat.
		if (event.type === 'run.cancelled' || event.type === 'run.failed') {
			await bus.publish(cancelChannel, { runId: event.runId });
		}
	}
}

/**
 * Claims due steps from the Postgres queue and executes them, heartbeating their leases. Wakes on
 * NOTIFY (sent by every commit that makes a step ready), on its own completions, when the next
 * parked step falls due, and otherwise every `pollMs`.
 */
export class Worker {
	readonly id: string;
	readonly #options: Required<Omit<WorkerOptions, 'onPoll' | 'workerId'>> &
		Pick<WorkerOptions, 'onPoll'>;
	readonly #deps: StepRunnerDeps;
	readonly #inFlight = new Map<
		string,
		{ step: ClaimedStep; controller: AbortController; done: Promise<void> }
	>();
	#running = false;
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

	constructor(options: WorkerOptions) {
		this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
		this.#options = {
			concurrency: 4,
			leaseMs: 30_000,
			pollMs: 5_000,
			...options
		};
		this.#deps = {
			db: options.database.db,
			kinds: options.kinds,
			loadGraph: createGraphLoader(options.database.db),
			now: () => new Date(),
			random: Math.random
		};
	}

	get activeSteps(): number {
		return this.#inFlight.size;
	}

	async start(): Promise<void> {
		this.#running = true;
		const { database, bus } = this.#options;
		this.#cleanups.push(await database.listen(stepsChannel, () => this.wake()));
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
			const free = concurrency - this.#inFlight.size - this.#reserved;
			if (free <= 0) {
				this.#backlog = true;
				return;
			}
			const claimed = await claimDueSteps(this.#deps.db, {
				workerId: this.id,
				limit: free,
				leaseMs
			});
			for (const step of claimed) this.#start(step);
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
			const { result, input } = await executeStep(this.#deps, step, signal);
			// Successors this commit makes ready are claimed by it, up to the slots free by then;
			// a stopping worker leaves them to others rather than abandon them to a lease.
			const limit = this.#running
				? Math.max(0, this.#options.concurrency - this.#inFlight.size + 1 - this.#reserved)
				: 0;
			this.#reserved += limit;
			let committed;
			try {
				committed = await this.#commitWithRetries(step, input, result, signal, limit);
			} finally {
				this.#reserved -= limit;
			}
			for (const next of committed.claimed) this.#start(next);
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
				return await commitStep(this.#deps, step, input, result, claim);
			} catch (error) {
				if (error instanceof StaleLeaseError || signal.aborted || Date.now() + delay > deadline)
					throw error;
				this.#options.logger.warn({ err: error, stepId: step.id }, 'commit failed; retrying');
				await new Promise((resolve) => setTimeout(resolve, delay));
			}
		}
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
		for (const cleanup of this.#cleanups.splice(0)) await cleanup().catch(() => {});
	}
}
