import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
