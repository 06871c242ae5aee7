import { describe, expect, it } from 'vitest';
import { outlineDefinition, parseDefinitionText } from './definition-outline';

describe('outlineDefinition', () => {
	it('puts problems under their node by path index, then by node id, the rest on top', () => {
		const definition = {
			nodes: [{ id: 'a', kind: 'input' }, { id: 'a', kind: 'transform' }, { kind: 'output' }]
		};
		const outline = outlineDefinition(definition, [
			{ nodeId: 'a', path: 'nodes[1].id', message: 'Used twice.' },
			{ nodeId: 'a', path: 'edges[0].branch', message: 'No branches.' },
			{ path: 'nodes[2].id', message: 'Required.' },
			{ path: 'edges[1].to', message: 'Unknown node.' }
		]);
		expect(outline.general.map((problem) => problem.message)).toEqual(['Unknown node.']);
		expect(outline.nodes.map((node) => [node.id, node.kind, node.problems.length])).toEqual([
			['a', 'input', 1],
			['a', 'transform', 1],
			[null, 'output', 1]
		]);
		expect(outline.nodes[0]?.problems[0]?.message).toBe('No branches.');
	});

	it('keeps every problem when the definition has no node list', () => {
		const outline = outlineDefinition('nonsense', [{ path: '(definition)', message: 'Bad.' }]);
		expect(outline).toEqual({ general: [{ path: '(definition)', message: 'Bad.' }], nodes: [] });
	});
});

describe('parseDefinitionText', () => {
	it('reports text that is not JSON as a problem of the whole definition', () => {
		const parsed = parseDefinitionText('{ "nodes": [ }');
		expect(parsed.ok).toBe(false);
		if (!parsed.ok) expect(parsed.problem.message).toMatch(/^Not valid JSON: /);
		expect(parseDefinitionText('{"nodes":[]}')).toEqual({ ok: true, value: { nodes: [] } });
	});
});
