import { describe, expect, it } from 'vitest';
import { failKind } from './fail.ts';
import { stepContext } from './test-context.ts';

describe('fail kind', () => {
	it('defaults the code and checks it', () => {
		expect(failKind.configSchema.parse({ message: 'No' })).toEqual({
			code: 'workflow_failed',
			message: 'No'
		});
		expect(failKind.configSchema.safeParse({ code: 'Bad Code', message: 'No' }).success).toBe(
			false
		);
		expect(failKind.configSchema.safeParse({}).success).toBe(false);
		expect(failKind.maxOutgoing).toBe(0);
	});

	it('throws a final StepFailure with the rendered message', async () => {
		const context = stepContext({ data: { input: { order: 42 }, steps: {} } });
		await expect(
			failKind.execute(context, { code: 'out_of_stock', message: 'Order {{ input.order }}' })
		).rejects.toMatchObject({
			name: 'StepFailure',
			code: 'out_of_stock',
			message: 'Order 42',
			retryable: false
		});
	});
});
