import { describe, expect, it } from 'vitest';
import { parallelKind } from './parallel.ts';
import { stepContext } from './test-context.ts';

describe('parallel kind', () => {
	it('takes no config and has no branch labels', () => {
		expect(parallelKind.configSchema.safeParse({ branches: 2 }).success).toBe(false);
		expect(parallelKind.branches({})).toBe('none');
	});

	it('passes its input on', async () => {
		const outcome = await parallelKind.execute(stepContext({ input: [1, 2] }), {});
		expect(outcome).toEqual({ type: 'succeeded', output: [1, 2] });
	});
});
