import { describe, expect, it } from 'vitest';
import { checkDefinition, descendantsOf, buildGraph } from './definition.ts';
import { builtInKinds, createKindRegistry } from './kinds/index.ts';

const kinds = createKindRegistry(builtInKinds);
const problemsOf = (definition: unknown) => checkDefinition(definition, kinds).problems;

const valid = {
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'check', kind: 'condition', config: { expression: 'n > 1' } },
		{ id: 'yes', kind: 'transform', config: { expression: '"yes"' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'check' },
		{ from: 'check', to: 'yes', branch: 'true' },
		{ from: 'yes', to: 'done' }
	]
};

describe('checkDefinition', () => {
	it('accepts a valid graph and fills in defaults', () => {
		const check = checkDefinition(valid, kinds);
		expect(check.ok).toBe(true);
		expect(check.definition?.inputs).toEqual([]);
	});

	it('reports shape errors with their path and node', () => {
		expect(problemsOf({ nodes: [{ id: '1bad', kind: 'input' }], extra: true })).toEqual(
			expect.arrayContaining([
				expect.objectContaining({ path: 'nodes[0].id', nodeId: '1bad' }),
				expect.objectContaining({ path: '(definition)' })
			])
		);
		expect(problemsOf({ nodes: [] })[0]?.message).toMatch(/at least one node/);
	});

	it('reports every problem at once, each located', () => {
		const problems = problemsOf({
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'weird', kind: 'teleport' },
				{ id: 'calc', kind: 'transform', config: { expression: '1 +' } },
				{ id: 'twice', kind: 'template', config: {} },
				{ id: 'lonely', kind: 'output' },
				{ id: 'a', kind: 'transform', config: { expression: '1' } },
				{ id: 'b', kind: 'transform', config: { expression: '2' } },
				{ id: 'start', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'weird' },
				{ from: 'start', to: 'calc' },
				{ from: 'start', to: 'twice' },
				{ from: 'start', to: 'nowhere' },
				{ from: 'a', to: 'b', branch: 'true' }
			]
		});
		const at = (path: string) => problems.find((problem) => problem.path === path);
		expect(at('nodes[7].id')?.message).toMatch(/used twice/);
		expect(at('nodes[1].kind')).toMatchObject({
			nodeId: 'weird',
			message: expect.stringMatching(/Unknown kind "teleport"/)
		});
		expect(at('nodes[2].config.expression')).toMatchObject({ nodeId: 'calc' });
		expect(at('nodes[3].config.template')).toMatchObject({ nodeId: 'twice' });
		expect(at('edges[3].to')?.message).toMatch(/unknown node "nowhere"/);
		expect(at('edges[4].branch')?.message).toMatch(/no branches/);
	});

	it('finds cycles, unreachable nodes, wrong branches and missing input', () => {
		const cyclic = problemsOf({
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'a', kind: 'transform', config: { expression: '1' } },
				{ id: 'b', kind: 'transform', config: { expression: '2' } },
				{ id: 'island', kind: 'transform', config: { expression: '3' } },
				{ id: 'c', kind: 'condition', config: { expression: 'true' } }
			],
			edges: [
				{ from: 'start', to: 'a' },
				{ from: 'a', to: 'b' },
				{ from: 'b', to: 'a' },
				{ from: 'b', to: 'c' },
				{ from: 'c', to: 'a', branch: 'maybe' }
			]
		});
		expect(cyclic.some((p) => /Cycle a → b → a/.test(p.message))).toBe(true);
		expect(cyclic.find((p) => p.nodeId === 'island')?.message).toMatch(/Unreachable/);
		expect(cyclic.find((p) => p.path === 'edges[4].branch')?.message).toMatch(/"true", "false"/);
		expect(problemsOf({ nodes: [{ id: 'x', kind: 'output' }] })[0]?.message).toMatch(/input/);
	});

	it('checks the body of a map and join counts against incoming edges', () => {
		const problems = problemsOf({
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'each', kind: 'map', config: { items: 'list', node: { kind: 'join', config: {} } } },
				{
					id: 'each2',
					kind: 'map',
					config: { items: 'list', node: { kind: 'transform', config: { expression: '(' } } }
				},
				{ id: 'j', kind: 'join', config: { mode: 'first-n', n: 3 } }
			],
			edges: [
				{ from: 'start', to: 'each' },
				{ from: 'start', to: 'each2' },
				{ from: 'each', to: 'j' },
				{ from: 'each2', to: 'j' }
			]
		});
		expect(problems.find((p) => p.path === 'nodes[1].config.node.kind')?.message).toMatch(
			/cannot run inside a map/
		);
		expect(problems.find((p) => p.path === 'nodes[2].config.node.config.expression')).toBeDefined();
		expect(problems.find((p) => p.path === 'nodes[3].config.n')?.message).toMatch(
			/only 2 lead here/
		);
	});

	it('checks the output expression', () => {
		expect(problemsOf({ ...valid, output: '$steps.(' })[0]?.path).toBe('output');
	});
});

describe('descendantsOf', () => {
	it('walks every path downstream', () => {
		const graph = buildGraph(checkDefinition(valid, kinds).definition as never);
		expect([...descendantsOf(graph, 'check')].sort()).toEqual(['done', 'yes']);
	});
});
