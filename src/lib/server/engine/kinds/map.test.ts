import { describe, expect, it } from 'vitest';
import { mapKind } from './map.ts';
import { stepContext } from './test-context.ts';
import type { StepLookup } from './types.ts';

const definition = { inputs: [], nodes: [], edges: [] };
const config = mapKind.configSchema.parse({
	items: '$.orders',
	node: { kind: 'transform', config: { expression: '$item.id' } }
});

type Iteration = Awaited<ReturnType<StepLookup['iterations']>>[number];

function collecting(iterations: Iteration[], count = iterations.length) {
	return stepContext({
		state: { count },
		lookup: { ...stepContext().lookup, iterations: () => Promise.resolve(iterations) }
	});
}

const done = (output: unknown): Iteration => ({ status: 'succeeded', output, error: null });

describe('map kind', () => {
	it('checks its config', () => {
		expect(config).toMatchObject({ concurrency: 4, node: { kind: 'transform' } });
		const parse = (extra: object) =>
			mapKind.configSchema.safeParse({ items: '$', node: { kind: 'transform' }, ...extra });
		expect(parse({}).data?.node.config).toEqual({});
		expect(parse({ concurrency: 0 }).success).toBe(false);
		expect(parse({ concurrency: 101 }).success).toBe(false);
		expect(parse({ node: { kind: 'transform', id: 'x' } }).success).toBe(false);
		expect(
			parse({ node: { kind: 'transform', retry: { maxAttempts: 3 } } }).data?.node.retry
		).toMatchObject({ maxAttempts: 3, jitter: true });
		expect(mapKind.checkConfig?.({ ...config, items: '$.[' }, definition)).toEqual([
			{ path: 'items', message: expect.any(String) }
		]);
	});

	it('starts one iteration per item', async () => {
		const input = { orders: [{ id: 1 }, { id: 2 }] };
		const outcome = await mapKind.execute(stepContext({ input }), config);
		expect(outcome).toEqual({
			type: 'wait',
			until: null,
			state: { count: 2 },
			effect: { type: 'iterations', items: input.orders, concurrency: 4 }
		});
	});

	it('succeeds at once on no items and fails on a non-array', async () => {
		const empty = await mapKind.execute(stepContext({ input: { orders: [] } }), config);
		expect(empty).toEqual({ type: 'succeeded', output: [] });
		await expect(
			mapKind.execute(stepContext({ input: { orders: 'many' } }), config)
		).rejects.toMatchObject({
			code: 'map_items_not_array',
			message: 'The items expression gave string, not an array.',
			retryable: false
		});
	});

	it('refuses more than 10,000 items', async () => {
		await expect(
			mapKind.execute(stepContext(), { ...config, items: '[1..10001]' })
		).rejects.toMatchObject({ code: 'map_too_many_items' });
	});

	it('collects the outputs in item order once all succeeded', async () => {
		const outcome = await mapKind.execute(collecting([done('a'), done('b')]), config);
		expect(outcome).toEqual({ type: 'succeeded', output: ['a', 'b'] });
	});

	it('waits while iterations are unfinished or not yet created', async () => {
		const running: Iteration = { status: 'running', output: null, error: null };
		expect(await mapKind.execute(collecting([done('a'), running]), config)).toEqual({
			type: 'wait',
			until: null,
			state: { count: 2 }
		});
		expect(await mapKind.execute(collecting([done('a')], 2), config)).toMatchObject({
			type: 'wait'
		});
	});

	it('fails when an iteration failed', async () => {
		const failed: Iteration = {
			status: 'failed',
			output: null,
			error: { code: 'expression_error', message: 'Bad data' }
		};
		await expect(mapKind.execute(collecting([done('a'), failed]), config)).rejects.toMatchObject({
			code: 'map_iteration_failed',
			message: 'Iteration 1 failed: Bad data',
			retryable: false
		});
	});
});
