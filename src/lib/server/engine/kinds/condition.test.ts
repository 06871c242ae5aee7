import { describe, expect, it } from 'vitest';
import { conditionKind } from './condition.ts';
import { stepContext } from './test-context.ts';

const definition = { inputs: [], nodes: [], edges: [] };

describe('condition kind', () => {
	it('has true and false branches and checks its expression', () => {
		expect(conditionKind.branches({ expression: 'x' })).toEqual(['true', 'false']);
		expect(conditionKind.checkConfig?.({ expression: 'x >' }, definition)).toHaveLength(1);
	});

	it.each([
		['amount > 10', true],
		['amount > 100', false],
		['missing', false],
		['tags', true],
		['tags[$ = "none"]', false],
		['[]', false],
		['{}', true],
		['""', false],
		['0', false]
	])('takes %s as %s and passes the input on', async (expression, expected) => {
		const input = { amount: 50, tags: ['a'] };
		const outcome = await conditionKind.execute(stepContext({ input }), { expression });
		expect(outcome).toEqual({ type: 'succeeded', output: input, branch: String(expected) });
	});
});
