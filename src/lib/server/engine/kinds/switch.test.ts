import { describe, expect, it } from 'vitest';
import { switchKind } from './switch.ts';
import { stepContext } from './test-context.ts';

const definition = { inputs: [], nodes: [], edges: [] };

const config = {
	cases: [
		{ label: 'small', expression: 'size < 10' },
		{ label: 'medium', expression: 'size < 100' }
	]
};

describe('switch kind', () => {
	it('offers the case labels and default as branches', () => {
		expect(switchKind.branches(config)).toEqual(['small', 'medium', 'default']);
	});

	it('refuses empty, duplicate, reserved and malformed labels', () => {
		const issues = (cases: unknown) => switchKind.configSchema.safeParse({ cases }).error?.issues;
		expect(issues([])?.[0]?.message).toBe('Add at least one case.');
		expect(
			issues([
				{ label: 'a', expression: '1' },
				{ label: 'a', expression: '2' }
			])
		).toEqual([
			expect.objectContaining({ path: ['cases', 1, 'label'], message: 'Label "a" is used twice.' })
		]);
		expect(issues([{ label: 'default', expression: '1' }])?.[0]?.message).toMatch(
			/^"default" is the branch taken when no case matches/
		);
		expect(issues([{ label: 'no spaces', expression: '1' }])?.[0]?.path).toEqual([
			'cases',
			0,
			'label'
		]);
	});

	it('reports every case expression that does not compile', () => {
		const broken = {
			cases: [
				{ label: 'a', expression: 'x' },
				{ label: 'b', expression: 'x +' }
			]
		};
		expect(switchKind.checkConfig?.(broken, definition)).toEqual([
			{ path: 'cases[1].expression', message: expect.any(String) }
		]);
	});

	it.each([
		[5, 'small'],
		[50, 'medium'],
		[500, 'default']
	])('sends size %d to %s', async (size, branch) => {
		const outcome = await switchKind.execute(stepContext({ input: { size } }), config);
		expect(outcome).toEqual({ type: 'succeeded', output: { size }, branch });
	});
});
