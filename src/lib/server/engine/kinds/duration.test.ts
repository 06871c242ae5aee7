import { describe, expect, it } from 'vitest';
import { durationSchema, parseDuration } from './duration.ts';

describe('parseDuration', () => {
	it('reads short forms', () => {
		expect(parseDuration('500ms')).toBe(500);
		expect(parseDuration('30s')).toBe(30_000);
		expect(parseDuration('5m')).toBe(300_000);
		expect(parseDuration('2h')).toBe(7_200_000);
		expect(parseDuration('1d')).toBe(86_400_000);
	});

	it('reads ISO-8601 durations', () => {
		expect(parseDuration('PT1M')).toBe(60_000);
		expect(parseDuration('P1DT2H3M4.5S')).toBe(93_784_500);
		expect(parseDuration('P2D')).toBe(172_800_000);
		expect(parseDuration('PT0.25S')).toBe(250);
	});

	it('is null for anything else', () => {
		for (const text of [
			'',
			'5',
			'm',
			'1.5h',
			'5 m',
			'-1s',
			'1w',
			'P',
			'PT',
			'P1H',
			'PT1D',
			'pt1m'
		]) {
			expect(parseDuration(text), text).toBeNull();
		}
	});
});

describe('durationSchema', () => {
	it('parses to milliseconds between 1 ms and 365 days', () => {
		expect(durationSchema.parse('365d')).toBe(365 * 86_400_000);
		expect(durationSchema.safeParse('366d').success).toBe(false);
		expect(durationSchema.safeParse('0s').success).toBe(false);
		expect(durationSchema.safeParse('soon').error?.issues[0]?.message).toMatch(/such as 30s/);
	});
});
