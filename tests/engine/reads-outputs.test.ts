import { z } from 'zod';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AnyNodeKind } from '../../src/lib/server/engine/kinds/types.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

// A kind may say that an execution reads none of the run's node outputs (an agent woken by its
// last child, an agent's turns and tool calls): they are then not loaded for it, and reading them
// anyway fails the step loudly instead of handing it an empty set.

const testDb = useTestDatabase();

const probe = (kind: string, readsOutputs: boolean, read: boolean): AnyNodeKind => ({
	kind,
	description: 'Answers with the node outputs it can see, or with its input (a test probe).',
	configSchema: z.object({}).strict(),
	branches: () => 'none',
	readsOutputs: () => readsOutputs,
	async execute(context) {
		if (!read)
			return { type: 'succeeded', output: { input: context.input, run: context.data.input } };
		return { type: 'succeeded', output: Object.keys(context.data.steps).sort() };
	}
});

let engine: EngineHarness;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [
		probe('sees_outputs', true, true),
		probe('needs_none', false, false),
		probe('claims_none_reads_them', false, true)
	]);
});
afterEach(() => engine.stopWorkers());

async function runThrough(kind: string) {
	const workflowId = await engine.publish({
		inputs: [{ name: 'n', type: 'number', required: true }],
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'first', kind: 'transform', config: { expression: 'n + 1' } },
			{ id: 'probe', kind },
			{ id: 'done', kind: 'output' }
		],
		edges: [
			{ from: 'start', to: 'first' },
			{ from: 'first', to: 'probe' },
			{ from: 'probe', to: 'done' }
		]
	});
	const started = await engine.start(workflowId, { n: 1 });
	return engine.waitFor(started.id);
}

describe('kinds that read no node outputs', () => {
	it('get their input and the run input, and nothing is missing for kinds that read outputs', async () => {
		await engine.startWorker();
		const seeing = await runThrough('sees_outputs');
		expect(seeing.status).toBe('succeeded');
		expect(seeing.output).toEqual(['first', 'start']);
		const blind = await runThrough('needs_none');
		expect(blind.status).toBe('succeeded');
		expect(blind.output).toEqual({ input: 2, run: { n: 1 } });
	});

	it('fail the step, saying so, when they read them all the same', async () => {
		await engine.startWorker();
		const run = await runThrough('claims_none_reads_them');
		expect(run.status).toBe('failed');
		expect(run.error?.message).toContain(
			'Node kind "claims_none_reads_them" said this execution reads no node outputs, but it read them.'
		);
	});
});
