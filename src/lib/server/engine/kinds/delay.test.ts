import { describe, expect, it } from 'vitest';
import { delayKind } from './delay.ts';
import { stepContext } from './test-context.ts';

const definition = { inputs: [], nodes: [], edges: [] };
const now = new Date('2030-01-01T00:00:00.000Z');
const at = (iso: string) => () => new Date(iso);

describe('delay kind', () => {
	it('takes exactly one of duration and until', () => {
		expect(delayKind.configSchema.parse({ duration: '5m' })).toEqual({ duration: 300_000 });
		expect(delayKind.configSchema.parse({ duration: 'PT1M' })).toEqual({ duration: 60_000 });
		expect(delayKind.configSchema.safeParse({}).error?.issues[0]?.message).toBe(
			'Set either duration or until, not both.'
		);
		const both = { duration: '5m', until: '2030-01-01T00:00:00Z' };
		expect(delayKind.configSchema.safeParse(both).success).toBe(false);
	});

	it('refuses durations over 365 days and malformed dates', () => {
		expect(delayKind.configSchema.safeParse({ duration: '400d' }).success).toBe(false);
		expect(delayKind.configSchema.safeParse({ until: 'tomorrow' }).error?.issues[0]?.path).toEqual([
			'until'
		]);
		expect(delayKind.configSchema.safeParse({ until: '2030-01-01T09:00:00' }).success).toBe(false);
		expect(delayKind.checkConfig?.({ until: '{{ input.when' }, definition)).toEqual([
			{ path: 'until', message: expect.stringMatching(/^Unclosed/) }
		]);
	});

	it('waits for the duration, then passes its input on', async () => {
		const first = await delayKind.execute(stepContext({ now: () => now }), { duration: 30_000 });
		const until = new Date('2030-01-01T00:00:30.000Z');
		expect(first).toEqual({ type: 'wait', until, state: { until: until.toISOString() } });

		const state = { until: until.toISOString() };
		const early = await delayKind.execute(
			stepContext({ state, now: at('2030-01-01T00:00:29.000Z') }),
			{ duration: 30_000 }
		);
		expect(early).toEqual({ type: 'wait', until, state });

		const due = await delayKind.execute(
			stepContext({ state, input: { a: 1 }, now: at('2030-01-01T00:00:30.000Z') }),
			{ duration: 30_000 }
		);
		expect(due).toEqual({ type: 'succeeded', output: { a: 1 } });
	});

	it('resolves an until template when it first runs', async () => {
		const context = stepContext({
			data: { input: { when: '2030-02-01T10:00:00+01:00' }, steps: {} }
		});
		const outcome = await delayKind.execute(context, { until: '{{ input.when }}' });
		expect(outcome).toEqual({
			type: 'wait',
			until: new Date('2030-02-01T09:00:00.000Z'),
			state: { until: '2030-02-01T09:00:00.000Z' }
		});
	});

	it('fails without retries when the template gives no date-time', async () => {
		const context = stepContext({ data: { input: { when: 'soon' }, steps: {} } });
		await expect(delayKind.execute(context, { until: '{{ input.when }}' })).rejects.toMatchObject({
			code: 'invalid_until',
			retryable: false
		});
	});
});
