import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { systemPrincipal, type SystemPrincipal } from '../../src/lib/server/principal.ts';
import { startWorkflowRun } from '../../src/lib/server/services/runs.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta } from '../helpers/services.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;
let workflowId: string;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	workflowId = await engine.publish({
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'done', kind: 'output' }
		],
		edges: [{ from: 'start', to: 'done' }]
	});
});
afterAll(() => engine.stopWorkers());

describe('runs started by the system', () => {
	it('start with the system principal, owned by nobody, with the trigger named', async () => {
		const { run, created } = await startWorkflowRun(
			engine.ctx,
			systemPrincipal('schedule'),
			engine.workspaceId,
			{ workflowId, input: {}, trigger: 'schedule' },
			meta
		);
		expect(created).toBe(true);
		expect(run).toMatchObject({ createdBy: null, trigger: 'schedule' });
	});

	it('refuse something that only looks like the system principal, starting nothing', async () => {
		const before = await runsDb.list(engine.ctx.db, engine.workspaceId, { limit: 100 });
		const forged = JSON.parse(JSON.stringify(systemPrincipal('webhook'))) as SystemPrincipal;
		await expect(
			startWorkflowRun(engine.ctx, forged, engine.workspaceId, { workflowId, input: {} }, meta)
		).rejects.toMatchObject({ type: 'unauthorized' });
		const after = await runsDb.list(engine.ctx.db, engine.workspaceId, { limit: 100 });
		expect(after).toHaveLength(before.length);
	});
});
