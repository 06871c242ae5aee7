import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { claimDueSteps } from '../../src/lib/server/db/run-queue.ts';
import {
	StaleLeaseError,
	commitStep,
	type StepRunnerDeps
} from '../../src/lib/server/engine/step-runner.ts';
import { createGraphLoader } from '../../src/lib/server/engine/transitions.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;
let deps: StepRunnerDeps;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	deps = {
		db: testDb.database.db,
		kinds: engine.ctx.kinds,
		loadGraph: createGraphLoader(testDb.database.db),
		now: () => new Date(),
		random: () => 0.5
	};
});

describe('leases and fencing', () => {
	it('a commit carrying a stale lease epoch is rejected and changes nothing', async () => {
		const workflowId = await engine.publish({ nodes: [{ id: 'start', kind: 'input' }], edges: [] });
		const run = await engine.start(workflowId, {});
		const [zombie] = await claimDueSteps(deps.db, { workerId: 'zombie', limit: 1, leaseMs: 1_000 });
		expect(zombie?.runId).toBe(run.id);
		// Nobody else may take it while the lease holds.
		expect(await claimDueSteps(deps.db, { workerId: 'other', limit: 1, leaseMs: 1_000 })).toEqual(
			[]
		);
		// The lease runs out without a heartbeat; another worker takes the step over.
		await deps.db.execute(
			sql`update run_steps set due_at = now() - interval '1 second' where id = ${zombie?.id}`
		);
		const [successor] = await claimDueSteps(deps.db, {
			workerId: 'successor',
			limit: 1,
			leaseMs: 30_000
		});
		expect(successor?.id).toBe(zombie?.id);
		expect(successor?.leaseEpoch).toBe((zombie?.leaseEpoch ?? 0) + 1);
		expect(successor?.claimedFrom).toBe('running');

		await expect(
			commitStep(deps, zombie!, {}, { type: 'succeeded', output: 'from the zombie' })
		).rejects.toBeInstanceOf(StaleLeaseError);
		await commitStep(deps, successor!, {}, { type: 'succeeded', output: 'from the successor' });

		const [step] = await runsDb.listSteps(deps.db, run.id);
		expect(step?.output).toBe('from the successor');
		expect((await runsDb.get(deps.db, engine.workspaceId, run.id))?.status).toBe('succeeded');
		// Once finished, a late commit of either is rejected too.
		await expect(
			commitStep(deps, successor!, {}, { type: 'succeeded', output: 'again' })
		).rejects.toBeInstanceOf(StaleLeaseError);
	});
});
