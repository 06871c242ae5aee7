import * as runs from '../db/runs.ts';
import * as workflows from '../db/workflows.ts';
import { isUuid } from '../ids.ts';
import { sha256Hex } from '../platform/crypto.ts';
import {
	IdempotencyMismatchError,
	cancelRun as cancelRunRows,
	decideApproval as decideApprovalRows,
	rerunRun,
	startRun as startRunRows
} from '../engine/run-control.ts';
import { startRunBatched } from '../engine/run-intake.ts';
import { type RunEventMessage, runChannel } from '../channels.ts';
import type { EventBus, Unsubscribe } from '../bus/bus.ts';
import { publishEvents } from '../bus/run-events.ts';
import { finishedRunStatuses, isFinishedRun, type RunStatus } from '../../schemas/run-status.ts';
import type { Run } from '../db/schema/index.ts';
import { audited, auditEntry } from './audit.ts';
import { getRunnableVersion, runnableVersion, type RunnableVersion } from './runnable-versions.ts';
import { loadWorkflow } from './workflows.ts';
import { authorizeWorkspace } from './workspaces.ts';
import { ServiceError, notFound } from '../errors.ts';
import {
	personActing,
	type Principal,
	type RequestMeta,
	type SystemPrincipal
} from '../principal.ts';
import type { ServiceContext } from './context.ts';

/** What starting a run needs: triggers call it outside any request, without the rest of a context. */
export type RunStarterContext = Pick<ServiceContext, 'db' | 'bus' | 'logger'>;

async function publish(ctx: RunStarterContext, events: RunEventMessage[]): Promise<void> {
	await publishEvents(ctx.bus, events).catch((error: unknown) =>
		ctx.logger.warn({ err: error }, 'publishing run events failed')
	);
}

async function loadRun(
	ctx: Pick<ServiceContext, 'db'>,
	workspaceId: string,
	runId: string
): Promise<Run> {
	const run = isUuid(runId) ? await runs.get(ctx.db, workspaceId, runId) : null;
	if (run === null) throw notFound('Run not found.');
	return run;
}

export interface StartRunInput {
	workflowId: string;
	input: unknown;
	/** A version number; the published version when absent. */
	version?: number;
	idempotencyKey?: string;
	trigger?: 'manual' | 'api' | 'webhook' | 'schedule';
	triggerId?: string;
}

/**
 * Starts a run of a workflow version: the input is checked against the version's declared inputs.
 * Used by people and tokens, and by triggers acting as the system (authorized by their own secret).
 */
export async function startWorkflowRun(
	ctx: RunStarterContext,
	actor: Principal | SystemPrincipal,
	workspaceId: string,
	request: StartRunInput,
	meta: RequestMeta
): Promise<{ run: Run; created: boolean }> {
	const principal = personActing(actor);
	if (principal !== null) await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.run');
	const workflow = await loadWorkflow(ctx, workspaceId, request.workflowId);
	let version: RunnableVersion | null;
	if (request.version !== undefined) {
		const found = await workflows.getVersion(ctx.db, workspaceId, workflow.id, request.version);
		if (found === null) throw notFound('Version not found.');
		version = runnableVersion(found);
	} else {
		version =
			workflow.publishedVersionId === null
				? null
				: await getRunnableVersion(ctx.db, workspaceId, workflow.publishedVersionId);
	}
	return startRunOn(
		ctx,
		principal,
		{ workspaceId, workflowId: workflow.id, version },
		request,
		meta
	);
}

/**
 * Starts a run of the published version a trigger's own query found (see triggers.getWebhookTarget),
 * without reading the workflow again. The system acts: the caller checked the trigger's secret.
 */
export async function startPublishedRun(
	ctx: RunStarterContext,
	actor: SystemPrincipal,
	target: { workspaceId: string; workflowId: string; publishedVersionId: string | null },
	request: Omit<StartRunInput, 'workflowId' | 'version'> & {
		/** The id a run created at once gets (see startRunBatched): its end can be watched before. */
		runId?: string;
	},
	meta: RequestMeta
): Promise<{ run: Run; created: boolean }> {
	const { workspaceId, workflowId, publishedVersionId } = target;
	const version =
		publishedVersionId === null
			? null
			: await getRunnableVersion(ctx.db, workspaceId, publishedVersionId);
	return startRunOn(ctx, personActing(actor), { workspaceId, workflowId, version }, request, meta);
}

async function startRunOn(
	ctx: RunStarterContext,
	principal: Principal | null,
	target: { workspaceId: string; workflowId: string; version: RunnableVersion | null },
	request: Omit<StartRunInput, 'workflowId' | 'version'> & { runId?: string },
	meta: RequestMeta
): Promise<{ run: Run; created: boolean }> {
	const { workspaceId, workflowId, version } = target;
	if (version === null) {
		throw new ServiceError(
			'conflict',
			'This workflow has no published version yet: publish one, or name a version to run.'
		);
	}
	const trigger = request.trigger ?? (principal?.kind === 'token' ? 'api' : 'manual');
	const parsed = version.inputSchema.safeParse(request.input ?? {});
	if (!parsed.success) {
		throw new ServiceError('invalid', 'The run input does not match the workflow inputs.', {
			fields: Object.fromEntries(
				parsed.error.issues.map((issue) => [issue.path.join('.') || 'input', issue.message])
			)
		});
	}
	const newRun = {
		workspaceId,
		workflowId,
		versionId: version.id,
		definition: version.definition,
		input: parsed.data,
		trigger,
		triggerId: request.triggerId ?? null,
		createdBy: principal?.user.id ?? null
	};
	const startAudit = {
		action: 'run.start',
		actorUserId: principal?.user.id ?? null,
		workspaceId,
		details: { workflowId, version: version.number, trigger }
	};
	if (request.idempotencyKey === undefined) {
		// Group-committed with the runs started at the same moment, its audit entry in the same statement.
		const { run, events } = await startRunBatched(
			ctx.db,
			newRun,
			auditEntry(meta, startAudit),
			request.runId
		);
		await publish(ctx, events);
		return { run, created: true };
	}
	const idempotency = {
		key: request.idempotencyKey,
		requestHash: sha256Hex(JSON.stringify([workflowId, version.number, parsed.data]))
	};
	let started;
	try {
		started = await audited(
			ctx.db,
			meta,
			(tx) => startRunRows(tx, newRun, idempotency),
			// A replayed request started nothing: there is nothing to record.
			(result) =>
				result.created ? { ...startAudit, target: { type: 'run', id: result.runId } } : null
		);
	} catch (error) {
		if (error instanceof IdempotencyMismatchError)
			throw new ServiceError('conflict', error.message);
		throw error;
	}
	if (started.created) await publish(ctx, started.events);
	return { run: await loadRun(ctx, workspaceId, started.runId), created: started.created };
}

export const runListLimit = 50;

export async function listRuns(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	filter: {
		workflowId?: string;
		status?: RunStatus[];
		trigger?: Run['trigger'];
		before?: string;
		limit?: number;
	}
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	let before;
	if (filter.before !== undefined) {
		const anchor = await loadRun(ctx, workspaceId, filter.before);
		before = { createdAt: anchor.createdAt, id: anchor.id };
	}
	const limit = Math.min(filter.limit ?? runListLimit, 200);
	const found = await runs.list(ctx.db, workspaceId, {
		workflowId: filter.workflowId && isUuid(filter.workflowId) ? filter.workflowId : undefined,
		status: filter.status,
		trigger: filter.trigger,
		before,
		limit: limit + 1
	});
	return {
		runs: found.slice(0, limit),
		next: found.length > limit ? (found[limit - 1]?.id ?? null) : null
	};
}

/** A run with every step (input, output, error, attempts, timings) and the version it pinned. */
export async function getRunDetail(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	runId: string
) {
	const { role } = await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	const run = await loadRun(ctx, workspaceId, runId);
	const [steps, version, workflow, usage] = await Promise.all([
		runs.listSteps(ctx.db, run.id),
		workflows.getVersionById(ctx.db, workspaceId, run.versionId),
		workflows.get(ctx.db, workspaceId, run.workflowId),
		runs.usageOfRun(ctx.db, run.id)
	]);
	return {
		run,
		// Each step with the tokens and cost of the model requests it made itself (null: none).
		steps: steps.map((step) => ({ ...step, usage: usage.byStep.get(step.id) ?? null })),
		usage: usage.total,
		version,
		workflowName: workflow?.name ?? '',
		role
	};
}

export async function getRunStep(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	runId: string,
	stepId: string
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	const run = await loadRun(ctx, workspaceId, runId);
	const step = isUuid(stepId) ? await runs.getStep(ctx.db, run.id, stepId) : null;
	if (step === null) throw notFound('Step not found.');
	const usage = await runs.usageOfRun(ctx.db, run.id);
	return { ...step, usage: usage.byStep.get(step.id) ?? null };
}

export async function listRunEvents(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	runId: string,
	afterSeq: number
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	const run = await loadRun(ctx, workspaceId, runId);
	return runs.listEvents(ctx.db, run.id, afterSeq, 1000);
}

export async function cancelRun(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	runId: string,
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.run');
	const run = await loadRun(ctx, workspaceId, runId);
	const result = await audited(
		ctx.db,
		meta,
		(tx) =>
			cancelRunRows(tx, run.id, {
				code: 'cancelled',
				message: `Cancelled by ${principal.user.name}.`
			}),
		({ cancelled }) =>
			cancelled
				? {
						action: 'run.cancel',
						actorUserId: principal.user.id,
						workspaceId,
						target: { type: 'run', id: run.id }
					}
				: null
	);
	if (!result.cancelled) throw new ServiceError('conflict', `The run has already ${run.status}.`);
	await publish(ctx, result.events);
	return loadRun(ctx, workspaceId, run.id);
}

/**
 * Retry (fromNodeId null): a new run that reuses every step that succeeded and executes the rest.
 * Re-run from a step: reuses everything upstream of it, optionally with the step's input replaced.
 */
export async function rerun(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	runId: string,
	request: { fromNodeId: string | null; input?: unknown },
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.run');
	const run = await loadRun(ctx, workspaceId, runId);
	if (request.fromNodeId === null && run.status !== 'failed' && run.status !== 'cancelled') {
		throw new ServiceError('conflict', 'Only a failed or cancelled run can be retried.');
	}
	if (request.fromNodeId !== null) {
		const version = await workflows.getVersionById(ctx.db, workspaceId, run.versionId);
		if (!version?.definition.nodes.some((node) => node.id === request.fromNodeId)) {
			throw new ServiceError('invalid', 'No such step in this run.', {
				fields: { fromNodeId: 'Unknown node.' }
			});
		}
	}
	const started = await audited(
		ctx.db,
		meta,
		(tx) =>
			rerunRun(tx, {
				runId: run.id,
				fromNodeId: request.fromNodeId,
				input: request.input,
				createdBy: principal.user.id
			}),
		({ runId }) => ({
			action: 'run.start',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'run', id: runId },
			details: { rerunOf: run.id, fromNodeId: request.fromNodeId }
		})
	);
	await publish(ctx, started.events);
	return loadRun(ctx, workspaceId, started.runId);
}

export async function listApprovals(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	status: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | null
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	return runs.listApprovals(ctx.db, workspaceId, status, 200);
}

export async function decideApproval(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	approvalId: string,
	decision: { approved: boolean; comment: string },
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'approvals.decide');
	const approval = isUuid(approvalId)
		? await runs.getApproval(ctx.db, workspaceId, approvalId)
		: null;
	if (approval === null) throw notFound('Approval not found.');
	const result = await audited(
		ctx.db,
		meta,
		(tx) => decideApprovalRows(tx, approval.id, { ...decision, userId: principal.user.id }),
		({ decided }) =>
			decided
				? {
						action: decision.approved ? 'approval.approve' : 'approval.reject',
						actorUserId: principal.user.id,
						workspaceId,
						target: { type: 'approval', id: approval.id }
					}
				: null
	);
	if (!result.decided)
		throw new ServiceError('conflict', `This approval is already ${approval.status}.`);
	await publish(ctx, result.events);
	return runs.getApproval(ctx.db, workspaceId, approval.id);
}

/** The events that end a run: `run.<status>` of each finished status. */
const terminalEvents = new Set(finishedRunStatuses.map((status) => `run.${status}`));

/** Listens on a run's channel for the events that end it, from before or after it exists. */
export class RunEndWatch {
	readonly runId: string;
	/** How many ending events were heard: a count, so one heard during a read is not missed. */
	endings = 0;
	#wake: () => void = () => {};
	#unsubscribe: Unsubscribe = async () => {};

	private constructor(runId: string) {
		this.runId = runId;
	}

	static async open(bus: EventBus, runId: string): Promise<RunEndWatch> {
		const watch = new RunEndWatch(runId);
		watch.#unsubscribe = await bus.subscribe(runChannel(runId), (message) => {
			if (!terminalEvents.has(String((message as { type?: unknown }).type))) return;
			watch.endings += 1;
			watch.#wake();
		});
		return watch;
	}

	/** Resolves at the next ending event, or after `ms`. */
	next(ms: number): Promise<void> {
		return new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, ms);
			this.#wake = () => {
				clearTimeout(timer);
				this.#wake = () => {};
				resolve();
			};
		});
	}

	close(): Promise<void> {
		return this.#unsubscribe();
	}
}

/**
 * Waits until a run finishes or `timeoutMs` passes (the webhook trigger's synchronous mode), and
 * returns it as it then is. With a `watch` opened before the run was created, every event of the run
 * was heard, so the run is read once, after its end is announced; otherwise it listens, then reads
 * once (the run may have ended before anyone listened). Without an announcement it reads every
 * second, in case the event was lost (the bus is best-effort).
 */
export async function waitForRun(
	ctx: ServiceContext,
	run: Run,
	timeoutMs: number,
	watch: RunEndWatch | null = null
): Promise<Run> {
	const deadline = Date.now() + timeoutMs;
	const listening = watch?.runId === run.id ? watch : await RunEndWatch.open(ctx.bus, run.id);
	try {
		let current = run;
		let read = listening !== watch;
		// The endings `current` already reflects: none for the run as created.
		let heard = 0;
		for (;;) {
			if (read) {
				heard = listening.endings;
				current = await loadRun(ctx, run.workspaceId, run.id);
			}
			if (isFinishedRun(current.status) || Date.now() >= deadline) return current;
			if (listening.endings === heard)
				await listening.next(Math.min(1_000, Math.max(0, deadline - Date.now())));
			read = true;
		}
	} finally {
		if (listening !== watch) await listening.close();
	}
}
