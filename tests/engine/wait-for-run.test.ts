import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../src/lib/server/bus/bus.ts';
import { systemPrincipal } from '../../src/lib/server/principal.ts';
import * as workflowsDb from '../../src/lib/server/db/workflows.ts';
import { RunEndWatch, startPublishedRun, waitForRun } from '../../src/lib/server/services/runs.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta } from '../helpers/services.ts';

/** The webhook's result mode: a caller waits for the run it started, on the bus or by polling. */

const testDb = useTestDatabase();
let engine: EngineHarness;
let workflowId: string;
let publishedVersionId: string | null;

const definition = {
	inputs: [{ name: 'n', type: 'number' as const, required: true }],
	nodes: [
		{ id: 'start', kind: 'input', config: {} },
		{ id: 'double', kind: 'transform', config: { expression: 'n * 2' } },
		{ id: 'done', kind: 'output', config: {} }
	],
	edges: [
		{ from: 'start', to: 'double' },
		{ from: 'double', to: 'done' }
	]
};

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	workflowId = await engine.publish(definition);
	const workflow = await workflowsDb.get(testDb.database.db, engine.workspaceId, workflowId);
	publishedVersionId = workflow?.publishedVersionId ?? null;
});
afterAll(() => engine.stopWorkers());

function start(n: number, runId?: string) {
	return startPublishedRun(
		engine.ctx,
		systemPrincipal('webhook'),
		{ workspaceId: engine.workspaceId, workflowId, publishedVersionId },
		{ input: { n }, trigger: 'webhook', runId },
		meta
	);
}

describe('waiting for a run', () => {
	it('gives the run as it ended, listening from before the run existed', async () => {
		const runId = randomUUID();
		const watch = await RunEndWatch.open(engine.ctx.bus, runId);
		try {
			const { run } = await start(4, runId);
			expect(run).toMatchObject({ id: runId, status: 'queued' });
			await engine.startWorker();
			const settled = await waitForRun(engine.ctx, run, 60_000, watch);
			expect(settled).toMatchObject({ id: runId, status: 'succeeded', output: 8, error: null });
		} finally {
			await watch.close();
		}
	});

	it('finds the run when the watch was opened for another id', async () => {
		const watch = await RunEndWatch.open(engine.ctx.bus, randomUUID());
		try {
			const { run } = await start(5);
			const settled = await waitForRun(engine.ctx, run, 60_000, watch);
			expect(settled).toMatchObject({ id: run.id, status: 'succeeded', output: 10 });
		} finally {
			await watch.close();
		}
	});

	it('still finds the end when its event never arrives, by reading the run again', async () => {
		const { run } = await start(6);
		// A bus the worker does not publish on: the ending event is lost to this waiter.
		const deaf = { ...engine.ctx, bus: createInProcessBus(() => {}) };
		const settled = await waitForRun(deaf, run, 60_000);
		expect(settled).toMatchObject({ id: run.id, status: 'succeeded', output: 12 });
	});

	it('gives the run unfinished once the time is up', async () => {
		await engine.stopWorkers();
		const { run } = await start(7);
		const settled = await waitForRun(engine.ctx, run, 50);
		expect(settled).toMatchObject({ id: run.id, status: 'queued' });
	});
});
