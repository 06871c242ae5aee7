import { z } from 'zod';
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/lib/server/db/index.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';
import type { AnyNodeKind } from '../../src/lib/server/engine/kinds/types.ts';
import { builtInKinds, createKindRegistry } from '../../src/lib/server/engine/kinds/index.ts';
import { Worker } from '../../src/lib/server/engine/worker.ts';
import type { Run } from '../../src/lib/server/db/schema/index.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { startWorkflowRun } from '../../src/lib/server/services/runs.ts';
import { createWorkflow, saveVersion } from '../../src/lib/server/services/workflows.ts';
import { listMyWorkspaces } from '../../src/lib/server/services/workspaces.ts';
import type { ServiceContext } from '../../src/lib/server/services/context.ts';
import { waitUntil } from './deadline.ts';
import { createTestServices, meta, signUpUser } from './services.ts';

/** Passes its input on, not inline: executed on its own, as a step with side effects is. */
export const passKind: AnyNodeKind = {
	kind: 'pass',
	description: 'Passes its input on (a test probe).',
	configSchema: z.object({}).strict(),
	branches: () => 'none',
	async execute(context) {
		return { type: 'succeeded', output: context.input };
	}
};

/**
 * A signed-up owner with a workspace, helpers to publish definitions and start runs, and real
 * workers on the same database. Extra node kinds (test probes) can be registered.
 */
export async function createEngineHarness(
	database: Database,
	extraKinds: AnyNodeKind[] = [],
	overrides: Partial<Pick<ServiceContext, 'logger' | 'now'>> = {}
) {
	const ctx = {
		...createTestServices(database),
		kinds: createKindRegistry([...builtInKinds, ...extraKinds]),
		...overrides
	};
	const owner = await signUpUser(ctx, { name: 'Engine Owner' });
	const [workspace] = await listMyWorkspaces(ctx, owner.principal);
	if (!workspace) throw new Error('no workspace');
	const workspaceId = workspace.id;
	const workers: Worker[] = [];

	async function publish(definition: unknown, name = 'Test workflow'): Promise<string> {
		const workflow = await createWorkflow(
			ctx,
			owner.principal,
			workspaceId,
			{ name, description: '' },
			meta
		);
		await saveVersion(
			ctx,
			owner.principal,
			workspaceId,
			workflow.id,
			{ definition, note: '', publish: true },
			meta
		);
		return workflow.id;
	}

	async function start(
		workflowId: string,
		input: unknown = {},
		idempotencyKey?: string
	): Promise<Run> {
		const { run } = await startWorkflowRun(
			ctx,
			owner.principal,
			workspaceId,
			{ workflowId, input, idempotencyKey },
			meta
		);
		return run;
	}

	async function startWorker(
		options: {
			concurrency?: number;
			leaseMs?: number;
			pollMs?: number;
			inMemoryCommits?: boolean;
		} = {}
	) {
		const worker = new Worker({
			database,
			bus: ctx.bus,
			kinds: ctx.kinds,
			logger: ctx.logger,
			concurrency: options.concurrency ?? 4,
			leaseMs: options.leaseMs ?? 30_000,
			pollMs: options.pollMs ?? 200,
			inMemoryCommits: options.inMemoryCommits ?? true
		});
		await worker.start();
		workers.push(worker);
		return worker;
	}

	/** Polls until the run reaches one of `statuses` (finished by default); the deadline scales. */
	async function waitFor(
		runId: string,
		statuses = ['succeeded', 'failed', 'cancelled'],
		timeoutMs = 20_000
	): Promise<Run> {
		let status: string | undefined;
		return waitUntil(
			async () => {
				const run = await runsDb.get(database.db, workspaceId, runId);
				status = run?.status;
				return run && statuses.includes(run.status) ? run : null;
			},
			{
				what: `run ${runId} to be ${statuses.join(' or ')}`,
				baseMs: timeoutMs,
				intervalMs: 25,
				context: () => `it is still ${status ?? 'missing'}`
			}
		);
	}

	async function steps(runId: string) {
		const all = await runsDb.listSteps(database.db, runId);
		return Object.fromEntries(
			all
				.filter((step) => step.iteration < 0 && step.path === '')
				.map((step) => [step.nodeId, step])
		);
	}

	async function eventTypes(runId: string): Promise<string[]> {
		const result = await database.db.execute(
			sql`select type from run_events where run_id = ${runId} order by seq`
		);
		return rows<{ type: string }>(result).map((row) => row.type);
	}

	async function stopWorkers() {
		await Promise.all(workers.splice(0).map((worker) => worker.stop(2_000)));
	}

	return {
		ctx,
		owner,
		workspaceId,
		publish,
		start,
		startWorker,
		waitFor,
		steps,
		eventTypes,
		stopWorkers
	};
}

export type EngineHarness = Awaited<ReturnType<typeof createEngineHarness>>;
