import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rows } from '../../src/lib/server/db/migrate.ts';
import { StepFailure, type NodeKind } from '../../src/lib/server/engine/kinds/types.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

// PostgreSQL stores neither U+0000 nor a lone surrogate. A step that produces them must end once,
// with a documented result, instead of failing its commit on every attempt.

const executions = new Map<string, number>();

const emitConfig = z.object({ label: z.string(), shape: z.string() }).strict();

/** Returns (or fails with) a value built by `shape`, counting its executions per label. */
const emitKind: NodeKind<z.infer<typeof emitConfig>> = {
	kind: 'emit',
	description: 'Test: emits awkward values',
	configSchema: emitConfig,
	branches: () => 'none',
	async execute(_context, { label, shape }) {
		executions.set(label, (executions.get(label) ?? 0) + 1);
		if (shape === 'nul-and-surrogates') {
			return {
				type: 'succeeded',
				output: { text: 'a\u0000b', lone: 'x\uD800y', pair: '😀', ['key\u0000']: ['\uDC00'] }
			};
		}
		if (shape === 'failure-message') {
			throw new StepFailure('upstream', 'upstream said a\u0000b', { retryable: true });
		}
		if (shape === 'too-deep') {
			let value: unknown = 'bottom';
			for (let i = 0; i < 20_000; i += 1) value = [value];
			return { type: 'succeeded', output: value };
		}
		if (shape === 'changes-under-the-commit') {
			// Clean when the engine checks it, refused when it is written: the database's refusal
			// must fail the step once, not leave it to run again after each lease expiry.
			let reads = 0;
			return {
				type: 'succeeded',
				output: {
					toJSON: () => ({ v: (reads += 1) === 1 ? 'clean' : 'a\u0000b' })
				}
			};
		}
		return { type: 'succeeded', output: shape };
	}
};

const testDb = useTestDatabase();
let engine: EngineHarness;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [emitKind]);
	await engine.startWorker({ leaseMs: 2_000 });
});
afterAll(() => engine.stopWorkers());

async function runEmit(label: string, shape: string) {
	const workflowId = await engine.publish(
		{
			nodes: [
				{ id: 'start', kind: 'input' },
				{
					id: 'emit',
					kind: 'emit',
					config: { label, shape },
					retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false }
				}
			],
			edges: [{ from: 'start', to: 'emit' }]
		},
		label
	);
	const run = await engine.waitFor((await engine.start(workflowId)).id);
	const steps = await engine.steps(run.id);
	const events = await testDb.database.db.execute(
		sql`select type, data from run_events where run_id = ${run.id} order by seq`
	);
	return { run, step: steps.emit!, events: rows<{ type: string; data: unknown }>(events) };
}

describe('values PostgreSQL cannot store', () => {
	it('are replaced by U+FFFD in a step output, with a warning, in one execution', async () => {
		const { run, step, events } = await runEmit('poison', 'nul-and-surrogates');
		expect(run.status).toBe('succeeded');
		expect(step.output).toEqual({
			text: 'a\uFFFDb',
			lone: 'x\uFFFDy',
			pair: '😀',
			['key\uFFFD']: ['\uFFFD']
		});
		expect(step.attempt).toBe(1);
		expect(executions.get('poison')).toBe(1);
		expect(events.find((event) => event.type === 'step.logs')?.data).toEqual({
			entries: [
				{
					level: 'warn',
					message:
						'4 characters that cannot be stored (U+0000 or an unpaired surrogate) replaced by U+FFFD.'
				}
			]
		});
	});

	it('are replaced in a failure message too, and retries run as configured', async () => {
		const { run, step } = await runEmit('failing', 'failure-message');
		expect(run.status).toBe('failed');
		expect(step.error).toMatchObject({ code: 'upstream', message: 'upstream said a\uFFFDb' });
		expect(executions.get('failing')).toBe(3);
	});

	it('fail the step once when the result is nested too deeply to store', async () => {
		const { run, step } = await runEmit('deep', 'too-deep');
		expect(run.status).toBe('failed');
		expect(step.error).toMatchObject({ code: 'unstorable_result', retryable: false });
		expect(executions.get('deep')).toBe(1);
	});

	it('fail the step once, saying why, when the database refuses the result', async () => {
		const { run, step } = await runEmit('refused', 'changes-under-the-commit');
		expect(run.status).toBe('failed');
		expect(step.error).toMatchObject({ code: 'unstorable_result', retryable: false });
		expect((step.error as { message: string }).message).toMatch(
			/^The step's result could not be stored: /
		);
		expect(executions.get('refused')).toBe(1);
	});
});
