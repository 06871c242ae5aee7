import { describe, expect, it } from 'vitest';
import { builtInKinds, createKindRegistry } from './index.ts';
import { inputKind } from './input.ts';

describe('kind registry', () => {
	it('holds every built-in kind by name', () => {
		const registry = createKindRegistry(builtInKinds);
		expect([...registry.keys()].sort()).toEqual([
			'approval',
			'condition',
			'delay',
			'fail',
			'input',
			'join',
			'map',
			'output',
			'parallel',
			'subworkflow',
			'switch',
			'template',
			'transform'
		]);
		expect(registry.get('input')).toBe(inputKind);
	});

	it('refuses two kinds with one name', () => {
		expect(() => createKindRegistry([inputKind, inputKind])).toThrow(
			'Node kind "input" is registered twice.'
		);
	});
});
