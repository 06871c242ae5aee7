import { describe, expect, it } from 'vitest';
import { costOf } from './model-prices.ts';

describe('costOf', () => {
	const price = { inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 0.5 };

	it('prices input and output per million tokens', () => {
		expect(costOf({ inputTokens: 1_000_000, outputTokens: 500_000 }, price)).toEqual({
			costUsd: 6,
			priced: true
		});
		expect(costOf({ inputTokens: 1_234, outputTokens: 56 }, price).costUsd).toBeCloseTo(
			(1_234 * 2 + 56 * 8) / 1e6,
			12
		);
	});

	it('charges cached input, part of the input, at its own price or else the input price', () => {
		const usage = { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 400_000 };
		expect(costOf(usage, price).costUsd).toBeCloseTo(0.6 * 2 + 0.4 * 0.5, 12);
		expect(costOf(usage, { ...price, cachedInputPerMillion: null }).costUsd).toBeCloseTo(2, 12);
		// A count of cached tokens above the input (a vendor's rounding) never makes input negative.
		expect(
			costOf({ inputTokens: 100, outputTokens: 0, cachedInputTokens: 500 }, price).costUsd
		).toBeCloseTo((100 * 0.5) / 1e6, 12);
	});

	it('costs 0, unpriced, for a model without a price', () => {
		expect(costOf({ inputTokens: 10_000, outputTokens: 10_000 }, null)).toEqual({
			costUsd: 0,
			priced: false
		});
	});

	it('costs 0, priced, for no tokens or a free model', () => {
		expect(costOf({ inputTokens: 0, outputTokens: 0 }, price)).toEqual({
			costUsd: 0,
			priced: true
		});
		const free = { inputPerMillion: 0, outputPerMillion: 0, cachedInputPerMillion: null };
		expect(costOf({ inputTokens: 5, outputTokens: 5 }, free)).toEqual({ costUsd: 0, priced: true });
	});
});
