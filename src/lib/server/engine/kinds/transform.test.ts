import { describe, expect, it } from 'vitest';
import { stepContext } from './test-context.ts';
import { transformKind } from './transform.ts';

const definition = { inputs: [], nodes: [], edges: [] };

describe('transform kind', () => {
	it('requires a compiling expression', () => {
		const missing = transformKind.configSchema.safeParse({});
		expect(missing.error?.issues[0]).toMatchObject({
			path: ['expression'],
			message: 'Enter a JSONata expression.'
		});
		expect(transformKind.configSchema.safeParse({ expression: 'a', extra: 1 }).success).toBe(false);
		expect(transformKind.checkConfig?.({ expression: '{ "a": }' }, definition)).toEqual([
			{ path: 'expression', message: expect.stringMatching(/at position/) }
		]);
		expect(transformKind.checkConfig?.({ expression: '$.a' }, definition)).toEqual([]);
	});

	it('evaluates against the step input, run input and step outputs', async () => {
		const context = stepContext({
			input: { price: 10 },
			data: { input: { qty: 3 }, steps: { tax: { output: 1.5 } } }
		});
		const outcome = await transformKind.execute(context, {
			expression: '{ "total": price * $input.qty + $steps.tax.output }'
		});
		expect(outcome).toEqual({ type: 'succeeded', output: { total: 31.5 } });
	});

	it('sees the item and index inside a map iteration', async () => {
		const context = stepContext({ iteration: 2, input: { id: 'x' } });
		const outcome = await transformKind.execute(context, { expression: '$item.id & $index' });
		expect(outcome).toEqual({ type: 'succeeded', output: 'x2' });
	});
});
