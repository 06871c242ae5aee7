import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StepOutcome } from '../../src/lib/server/engine/kinds/types.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	await engine.startWorker();
});
afterAll(() => engine.stopWorkers());

describe('a linear workflow', () => {
	it('runs input → transform → template → output and records every step', async () => {
		const workflowId = await engine.publish({
			inputs: [{ name: 'name', type: 'string', required: true }],
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'shout', kind: 'transform', config: { expression: '$uppercase(name)' } },
				{ id: 'greet', kind: 'template', config: { template: 'Hello {{ steps.shout.output }}!' } },
				{ id: 'done', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'shout' },
				{ from: 'shout', to: 'greet' },
				{ from: 'greet', to: 'done' }
			]
		});
		const run = await engine.start(workflowId, { name: 'ada' });
		const finished = await engine.waitFor(run.id);
		expect(finished.status).toBe('succeeded');
		expect(finished.output).toBe('Hello ADA!');
		const steps = await engine.steps(run.id);
		expect(steps.shout?.output).toBe('ADA');
		expect(steps.shout?.input).toEqual({ name: 'ada' });
		expect(steps.greet?.attempt).toBe(1);
		const events = await engine.eventTypes(run.id);
		expect(events[0]).toBe('run.queued');
		expect(events.at(-1)).toBe('run.succeeded');
		expect(events.filter((type) => type === 'step.succeeded')).toHaveLength(4);
	});
});

describe('values that look like JSON', () => {
	it('reads text outputs back as text, not as the JSON they spell', async () => {
		const workflowId = await engine.publish({
			inputs: [{ name: 'text', type: 'string', required: true }],
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'echo', kind: 'transform', config: { expression: 'text' } },
				{ id: 'done', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'echo' },
				{ from: 'echo', to: 'done' }
			]
		});
		for (const text of ['42', 'true', 'null', '[1, 2]', '{"a": 1}', '"quoted"']) {
			const run = await engine.waitFor((await engine.start(workflowId, { text })).id);
			expect(run.output).toBe(text);
			expect((await engine.steps(run.id)).echo?.output).toBe(text);
		}
	});
});

describe('a node kind that misbehaves', () => {
	it('fails its step with invalid_outcome instead of leaving the run stuck', async () => {
		const broken = {
			kind: 'broken',
			description: 'Returns something that is not an outcome',
			configSchema: z.strictObject({}),
			branches: () => 'none' as const,
			execute: async () => ({ output: 'no type' }) as unknown as StepOutcome
		};
		// Only a worker that knows the kind may claim its step (they share the database).
		await engine.stopWorkers();
		const harness = await createEngineHarness(testDb.database, [broken]);
		await harness.startWorker();
		try {
			const workflowId = await harness.publish({
				nodes: [
					{ id: 'start', kind: 'input' },
					{ id: 'odd', kind: 'broken' }
				],
				edges: [{ from: 'start', to: 'odd' }]
			});
			const run = await harness.start(workflowId, {});
			const finished = await harness.waitFor(run.id);
			expect(finished.status).toBe('failed');
			expect((await harness.steps(run.id)).odd?.error).toMatchObject({ code: 'invalid_outcome' });
		} finally {
			await harness.stopWorkers();
		}
	});
});
