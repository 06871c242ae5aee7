import { describe, expect, it } from 'vitest';
import { describeTarget, isMet, missed, report, result, summaryTable } from './report.ts';

describe('result', () => {
	it('computes the ratio to the baseline and whether the target is met', () => {
		const measured = (value: number) =>
			result({
				metric: 'per-step overhead p50',
				value,
				unit: 'ms',
				baseline: { value: 0.4, is: 'one bare commit' },
				target: { of: 'ratio', op: '<=', value: 3 }
			});
		expect(measured(1.2)).toEqual({
			metric: 'per-step overhead p50',
			value: 1.2,
			unit: 'ms',
			baseline: 0.4,
			baselineIs: 'one bare commit',
			ratio: 3,
			target: { of: 'ratio', op: '<=', value: 3 },
			met: true
		});
		expect(measured(1.21)).toMatchObject({ ratio: 3.025, met: false });
	});

	it('keeps figures without a target, with met null', () => {
		expect(result({ metric: 'cold start', value: 80.123456, unit: 'ms' })).toMatchObject({
			value: 80.123,
			baseline: null,
			ratio: null,
			target: null,
			met: null
		});
	});

	it('counts a figure that could not be measured as missed', () => {
		const row = result({
			metric: 'runs/s',
			value: NaN,
			unit: '/s',
			target: { of: 'value', op: '>=', value: 3000 }
		});
		expect(row.met).toBe(false);
	});
});

describe('isMet', () => {
	it('bounds the value, the ratio or the overhead', () => {
		expect(isMet({ of: 'value', op: '>=', value: 3000 }, 3000, null)).toBe(true);
		expect(isMet({ of: 'value', op: '>=', value: 3000 }, 2999, 5000)).toBe(false);
		expect(isMet({ of: 'ratio', op: '>=', value: 0.5 }, 40, 100)).toBe(false);
		expect(isMet({ of: 'overhead', op: '<', value: 1 }, 1.9, 1)).toBe(true);
		expect(isMet({ of: 'overhead', op: '<', value: 1 }, 2, 1)).toBe(false);
		expect(isMet({ of: 'value', op: '==', value: 4008 }, 4008, null)).toBe(true);
		expect(isMet({ of: 'value', op: '==', value: 4008 }, 1006, null)).toBe(false);
	});

	it('refuses a target on the baseline without one', () => {
		expect(() => isMet({ of: 'ratio', op: '<=', value: 3 }, 1, null)).toThrow(
			'a target of the ratio needs a baseline'
		);
	});
});

describe('the summary', () => {
	const reports = [
		report(
			'engine',
			[
				result({
					metric: 'single-step runs/s',
					value: 2500,
					unit: '/s',
					baseline: { value: 5000, is: '256 concurrent bare commits' },
					target: { of: 'value', op: '>=', value: 3000 }
				}),
				result({
					metric: 'dispatch latency p50',
					value: 0.65,
					unit: 'ms',
					target: { of: 'value', op: '<=', value: 5 }
				})
			],
			{}
		),
		report('sandbox', [result({ metric: 'cold start p50', value: 80, unit: 'ms' })], {})
	];

	it('names what was missed', () => {
		expect(missed(reports)).toEqual(['engine: single-step runs/s']);
	});

	it('prints one line per result: value, baseline, ratio, target and met', () => {
		const lines = summaryTable(reports).split('\n');
		expect(lines[0]).toMatch(/^benchmark +metric +value +baseline +ratio +target +met$/);
		expect(lines[2]).toMatch(
			/^engine +single-step runs\/s +2,500 \/s +5,000 \/s +0\.500× +≥ 3000 \/s +NO$/
		);
		expect(lines[3]).toMatch(/^engine +dispatch latency p50 +0\.650 ms +— +— +≤ 5 ms +yes$/);
		expect(lines[4]).toMatch(/^sandbox +cold start p50 +80\.0 ms +— +— +none +—$/);
	});

	it('describes targets in words', () => {
		expect(describeTarget({ of: 'ratio', op: '<=', value: 3 }, 'ms')).toBe('≤ 3× baseline');
		expect(describeTarget({ of: 'overhead', op: '<', value: 1 }, 'ms')).toBe(
			'< 1 ms over baseline'
		);
	});
});
