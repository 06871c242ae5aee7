import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import {
	StepFailure,
	type AnyNodeKind,
	type NodeKind
} from '../../src/lib/server/engine/kinds/types.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

// Child steps (engine/children.ts): a parent parks while its children run, is woken when the last
// finishes, and decides what their results mean — the mechanism an agent's turns and tool calls use.

const testDb = useTestDatabase();
let engine: EngineHarness;
const keys: string[] = [];

const fanoutConfig = z.object({ width: z.number().int(), failAt: z.number().int().default(-1) });
type FanoutConfig = z.infer<typeof fanoutConfig>;

/** Two rounds of `width` children; round 1 doubles what round 0 gave; the sum is the output. */
const fanout: NodeKind<FanoutConfig> = {
	kind: 'fanout',
	description: 'Test parent',
	configSchema: fanoutConfig,
	branches: () => 'none',
	async execute(context, config) {
		if (context.state === null) {
			const children = Array.from({ length: config.width }, (_, i) => ({
				name: `r0.c${i}`,
				kind: 'fanout.child',
				input: { n: i }
			}));
			return {
				type: 'wait',
				until: null,
				state: { round: 0 },
				effect: { type: 'children', children }
			};
		}
		const children = await context.lookup.children();
		const failed = children.find((child) => child.status === 'failed');
		if (failed)
			throw new StepFailure('child_failed', `${failed.path}: ${failed.error?.message}`, {
				retryable: false
			});
		const round = Number(context.state.round);
		if (round === 0) {
			const next = children.map((child, i) => ({
				name: `r1.c${i}`,
				kind: 'fanout.child',
				input: { n: child.output }
			}));
			return {
				type: 'wait',
				until: null,
				state: { round: 1 },
				effect: { type: 'children', children: next }
			};
		}
		const total = children
			.filter((child) => child.path.startsWith('r1.'))
			.reduce((sum, child) => sum + Number(child.output), 0);
		return { type: 'succeeded', output: { total, paths: children.map((child) => child.path) } };
	}
};

const fanoutChild: NodeKind<FanoutConfig> = {
	kind: 'fanout.child',
	description: 'Test child',
	configSchema: fanoutConfig,
	childOnly: true,
	branches: () => 'none',
	async execute(context, config) {
		keys.push(context.idempotencyKey);
		const n = Number((context.input as { n: number }).n);
		if (n === config.failAt)
			throw new StepFailure('boom', `child ${n} failed`, { retryable: false });
		return { type: 'succeeded', output: n * 2 };
	}
};

const definition = (config: Record<string, unknown>) => ({
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'fan', kind: 'fanout', config },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'fan' },
		{ from: 'fan', to: 'done' }
	]
});

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [fanout, fanoutChild] as AnyNodeKind[]);
	await engine.startWorker({ concurrency: 4 });
});
afterAll(() => engine.stopWorkers());

describe('child steps', () => {
	it('runs each round of children, wakes the parent after the last, and passes the result on', async () => {
		const workflowId = await engine.publish(definition({ width: 3 }));
		const run = await engine.waitFor((await engine.start(workflowId)).id);
		expect(run.status).toBe('succeeded');
		// Round 0 gives 0, 2, 4; round 1 doubles them: 0 + 4 + 8.
		expect(run.output).toEqual({
			total: 12,
			paths: ['r0.c0', 'r0.c1', 'r0.c2', 'r1.c0', 'r1.c1', 'r1.c2']
		});
		const all = await runsDb.listSteps(testDb.database.db, run.id);
		const children = all.filter((step) => step.path !== '');
		expect(children).toHaveLength(6);
		expect(children.every((step) => step.nodeId === 'fan' && step.kind === 'fanout.child')).toBe(
			true
		);
		expect(children.every((step) => step.status === 'succeeded')).toBe(true);
		// The node steps are unaffected: one per node, all succeeded.
		expect(Object.keys(await engine.steps(run.id)).sort()).toEqual(['done', 'fan', 'start']);
		expect(keys).toContain(`${run.id}:fan:r1:c2`);
		const started = await testDb.database.db.execute(sql`
			select data from run_events where run_id = ${run.id} and type = 'step.started' and data ? 'path'
		`);
		expect(
			rows<{ data: { path: string; kind: string } }>(started)
				.map((row) => row.data.path)
				.sort()
		).toEqual(['r0.c0', 'r0.c1', 'r0.c2', 'r1.c0', 'r1.c1', 'r1.c2']);
	});

	it('hands a failed child to its parent, which decides the outcome', async () => {
		const workflowId = await engine.publish(definition({ width: 2, failAt: 1 }));
		const run = await engine.waitFor((await engine.start(workflowId)).id);
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'child_failed', nodeId: 'fan' });
		expect(run.error?.message).toContain('r0.c1: child 1 failed');
	});

	it('refuses a child kind as a node of a definition', async () => {
		const error = await engine
			.publish({
				nodes: [
					{ id: 'start', kind: 'input' },
					{ id: 'x', kind: 'fanout.child', config: { width: 1 } }
				],
				edges: [{ from: 'start', to: 'x' }]
			})
			.catch((caught: unknown) => caught);
		expect(JSON.stringify(error)).toContain('Unknown kind \\"fanout.child\\"');
	});
});
