import { describe, expect, it } from 'vitest';
import { inputKind } from './input.ts';
import { stepContext } from './test-context.ts';

describe('input kind', () => {
	it('takes no config', () => {
		expect(inputKind.configSchema.safeParse({}).success).toBe(true);
		expect(inputKind.configSchema.safeParse({ extra: 1 }).success).toBe(false);
		expect(inputKind.branches({})).toBe('none');
	});

	it('passes the run input on', async () => {
		const outcome = await inputKind.execute(stepContext({ input: { name: 'Ada' } }), {});
		expect(outcome).toEqual({ type: 'succeeded', output: { name: 'Ada' } });
	});
});
