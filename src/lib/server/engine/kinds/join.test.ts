import { describe, expect, it } from 'vitest';
import { joinConfigSchema, joinKind } from './join.ts';
import { stepContext } from './test-context.ts';

describe('join kind', () => {
	it('defaults to all and requires n exactly for first-n', () => {
		expect(joinConfigSchema.parse({})).toEqual({ mode: 'all' });
		expect(joinConfigSchema.parse({ mode: 'first-n', n: 2 })).toEqual({ mode: 'first-n', n: 2 });
		expect(joinConfigSchema.safeParse({ mode: 'first-n' }).error?.issues).toEqual([
			expect.objectContaining({ path: ['n'], message: 'Set n, the branches to wait for.' })
		]);
		expect(joinConfigSchema.safeParse({ mode: 'any', n: 2 }).error?.issues[0]?.message).toBe(
			'n applies only to mode first-n.'
		);
		expect(joinConfigSchema.safeParse({ mode: 'first-n', n: 0 }).success).toBe(false);
		expect(joinConfigSchema.safeParse({ mode: 'some' }).error?.issues[0]?.message).toBe(
			'Use all, any or first-n.'
		);
	});

	it('passes on the outputs of the branches that arrived', async () => {
		const input = { a: 1, b: 2 };
		const outcome = await joinKind.execute(stepContext({ input }), { mode: 'all' });
		expect(outcome).toEqual({ type: 'succeeded', output: input });
	});
});
