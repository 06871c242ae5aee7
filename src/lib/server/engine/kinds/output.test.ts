import { describe, expect, it } from 'vitest';
import { outputKind } from './output.ts';
import { stepContext } from './test-context.ts';
import { StepFailure } from './types.ts';

const definition = { inputs: [], nodes: [], edges: [] };

describe('output kind', () => {
	it('has no outgoing edges and checks its expression', () => {
		expect(outputKind.maxOutgoing).toBe(0);
		expect(outputKind.configSchema.safeParse({ value: '' }).success).toBe(false);
		expect(outputKind.checkConfig?.({}, definition)).toEqual([]);
		expect(outputKind.checkConfig?.({ value: '$.a +' }, definition)).toEqual([
			{ path: 'value', message: expect.stringMatching(/Unexpected end/) }
		]);
	});

	it('outputs the step input by default', async () => {
		const outcome = await outputKind.execute(stepContext({ input: { a: 1 } }), {});
		expect(outcome).toEqual({ type: 'succeeded', output: { a: 1 } });
	});

	it('outputs the value expression', async () => {
		const context = stepContext({ input: { a: 1 }, data: { input: { b: 2 }, steps: {} } });
		const outcome = await outputKind.execute(context, { value: 'a + $input.b' });
		expect(outcome).toEqual({ type: 'succeeded', output: 3 });
	});

	it('fails without retries on a run-time expression error', async () => {
		const failure = outputKind.execute(stepContext({ input: {} }), { value: '"a" - 1' });
		await expect(failure).rejects.toBeInstanceOf(StepFailure);
		await expect(failure).rejects.toMatchObject({ code: 'expression_error', retryable: false });
	});
});
