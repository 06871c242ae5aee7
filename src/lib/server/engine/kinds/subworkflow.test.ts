import { describe, expect, it } from 'vitest';
import { subworkflowKind } from './subworkflow.ts';
import { stepContext } from './test-context.ts';
import type { RunError } from '../../db/schema/index.ts';

const definition = { inputs: [], nodes: [], edges: [] };
const workflowId = '6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f';
const versionId = '7a2d3b5f-9e4c-4d6b-8f0a-1b2c3d4e5f60';

function childContext(status: string, output: unknown = null, error: RunError | null = null) {
	const childRun = () => Promise.resolve({ id: 'child-1', status, output, error });
	return stepContext({ state: { started: true }, lookup: { ...stepContext().lookup, childRun } });
}

describe('subworkflow kind', () => {
	it('checks its config', () => {
		expect(subworkflowKind.configSchema.safeParse({ workflowId }).success).toBe(true);
		expect(
			subworkflowKind.configSchema.safeParse({ workflowId: 'nope' }).error?.issues[0]
		).toMatchObject({
			path: ['workflowId'],
			message: 'Choose a workflow.'
		});
		expect(subworkflowKind.configSchema.safeParse({ workflowId, version: 2 }).success).toBe(false);
		expect(subworkflowKind.checkConfig?.({ workflowId, input: '$.(' }, definition)).toEqual([
			{ path: 'input', message: expect.any(String) }
		]);
	});

	it('starts the child with the step input by default', async () => {
		const outcome = await subworkflowKind.execute(stepContext({ input: { a: 1 } }), { workflowId });
		expect(outcome).toEqual({
			type: 'wait',
			until: null,
			state: { started: true },
			effect: { type: 'child-run', workflowId, versionId: null, input: { a: 1 } }
		});
	});

	it('starts a pinned version with the input expression', async () => {
		const outcome = await subworkflowKind.execute(stepContext({ input: { a: 1 } }), {
			workflowId,
			versionId,
			input: '{ "b": a + 1 }'
		});
		expect(outcome).toMatchObject({ effect: { versionId, input: { b: 2 } } });
	});

	it('waits for the child, then outputs its output', async () => {
		expect(await subworkflowKind.execute(childContext('running'), { workflowId })).toEqual({
			type: 'wait',
			until: null,
			state: { started: true }
		});
		expect(
			await subworkflowKind.execute(childContext('succeeded', { c: 3 }), { workflowId })
		).toEqual({ type: 'succeeded', output: { c: 3 } });
	});

	it('fails without retries when the child fails or is cancelled', async () => {
		const error = { code: 'boom', message: 'Something broke' };
		await expect(
			subworkflowKind.execute(childContext('failed', null, error), { workflowId })
		).rejects.toMatchObject({
			code: 'child_run_failed',
			message: 'Child run child-1 failed: Something broke',
			retryable: false
		});
		await expect(
			subworkflowKind.execute(childContext('cancelled'), { workflowId })
		).rejects.toMatchObject({ message: 'Child run child-1 cancelled' });
	});
});
