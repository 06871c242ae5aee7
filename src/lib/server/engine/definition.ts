import type { z } from 'zod';
import {
	workflowDefinitionSchema,
	type DefinitionProblem,
	type WorkflowDefinition,
	type WorkflowEdge,
	type WorkflowNode
} from '../../schemas/workflow.ts';
import { checkExpression } from './expressions.ts';
import type { AnyNodeKind } from './kinds/types.ts';

export type KindRegistry = ReadonlyMap<string, AnyNodeKind>;

/** The definition with its edges indexed both ways; built once per version and cached. */
export interface WorkflowGraph {
	definition: WorkflowDefinition;
	nodes: ReadonlyMap<string, WorkflowNode>;
	incoming: ReadonlyMap<string, readonly WorkflowEdge[]>;
	outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>;
	inputNodeId: string;
}

export function buildGraph(definition: WorkflowDefinition): WorkflowGraph {
	const nodes = new Map(definition.nodes.map((node) => [node.id, node]));
	const incoming = new Map<string, WorkflowEdge[]>();
	const outgoing = new Map<string, WorkflowEdge[]>();
	for (const node of definition.nodes) {
		incoming.set(node.id, []);
		outgoing.set(node.id, []);
	}
	for (const edge of definition.edges) {
		incoming.get(edge.to)?.push(edge);
		outgoing.get(edge.from)?.push(edge);
	}
	const inputNode = definition.nodes.find((node) => node.kind === 'input');
	return { definition, nodes, incoming, outgoing, inputNodeId: inputNode?.id ?? '' };
}

/** Every node reachable from `nodeId` along edges, itself excluded. */
export function descendantsOf(graph: WorkflowGraph, nodeId: string): Set<string> {
	const seen = new Set<string>();
	const stack = [nodeId];
	while (stack.length > 0) {
		const current = stack.pop() as string;
		for (const edge of graph.outgoing.get(current) ?? []) {
			if (!seen.has(edge.to)) {
				seen.add(edge.to);
				stack.push(edge.to);
			}
		}
	}
	seen.delete(nodeId);
	return seen;
}

// Kinds that shape the graph itself cannot be the body of a map.
const notMappable = new Set(['input', 'output', 'condition', 'switch', 'parallel', 'join', 'map']);

export type DefinitionCheck =
	| { ok: true; definition: WorkflowDefinition; problems: [] }
	| { ok: false; definition: WorkflowDefinition | null; problems: DefinitionProblem[] };

/**
 * Checks a definition completely and reports every problem it finds, each with the node it belongs
 * to and its JSON path, so the editor can show them all at once.
 */
export function checkDefinition(raw: unknown, kinds: KindRegistry): DefinitionCheck {
	const parsed = workflowDefinitionSchema.safeParse(raw);
	if (!parsed.success) {
		return { ok: false, definition: null, problems: zodProblems(parsed.error, raw) };
	}
	const definition = parsed.data;
	const problems: DefinitionProblem[] = [];
	const report = (problem: DefinitionProblem) => problems.push(problem);

	const indexOf = new Map<string, number>();
	definition.nodes.forEach((node, index) => {
		if (indexOf.has(node.id)) {
			report({
				nodeId: node.id,
				path: `nodes[${index}].id`,
				message: `Node id "${node.id}" is used twice.`
			});
		} else {
			indexOf.set(node.id, index);
		}
	});

	const inputFieldNames = new Set<string>();
	definition.inputs.forEach((field, index) => {
		if (inputFieldNames.has(field.name)) {
			report({
				path: `inputs[${index}].name`,
				message: `Input "${field.name}" is declared twice.`
			});
		}
		inputFieldNames.add(field.name);
	});

	const configs = new Map<string, unknown>();
	definition.nodes.forEach((node, index) => {
		const config = checkNodeConfig(node, `nodes[${index}]`, kinds, definition, report, false);
		if (config !== undefined) configs.set(node.id, config);
	});

	const inputNodes = definition.nodes.filter((node) => node.kind === 'input');
	if (inputNodes.length !== 1) {
		report({
			path: 'nodes',
			message:
				inputNodes.length === 0
					? 'Add one node of kind "input": runs start there.'
					: `A workflow has exactly one input node; found ${inputNodes.length}.`
		});
	}

	const seenEdges = new Set<string>();
	definition.edges.forEach((edge, index) => {
		const path = `edges[${index}]`;
		for (const end of ['from', 'to'] as const) {
			if (!indexOf.has(edge[end])) {
				report({ path: `${path}.${end}`, message: `Edge ${end} unknown node "${edge[end]}".` });
			}
		}
		if (edge.from === edge.to) {
			report({ nodeId: edge.from, path, message: 'An edge cannot connect a node to itself.' });
		}
		const key = `${edge.from}→${edge.to}→${edge.branch ?? ''}`;
		if (seenEdges.has(key)) report({ nodeId: edge.from, path, message: 'Duplicate edge.' });
		seenEdges.add(key);
		const source = definition.nodes[indexOf.get(edge.from) ?? -1];
		const target = definition.nodes[indexOf.get(edge.to) ?? -1];
		if (target?.kind === 'input') {
			report({
				nodeId: edge.to,
				path: `${path}.to`,
				message: 'Nothing may lead into the input node.'
			});
		}
		const kind = source && kinds.get(source.kind);
		if (!source || !kind || !configs.has(source.id)) return;
		const branches = kind.branches(configs.get(source.id));
		if (edge.branch !== undefined && branches === 'none') {
			report({
				nodeId: edge.from,
				path: `${path}.branch`,
				message: `A ${source.kind} node has no branches; remove "branch".`
			});
		} else if (
			edge.branch !== undefined &&
			branches !== 'none' &&
			!branches.includes(edge.branch)
		) {
			report({
				nodeId: edge.from,
				path: `${path}.branch`,
				message: `Unknown branch "${edge.branch}"; ${source.kind} "${source.id}" has ${branches.map((b) => `"${b}"`).join(', ')}.`
			});
		}
	});

	// Edges to unknown nodes are reported above; the graph checks below simply ignore them.
	const graph = buildGraph(definition);
	for (const node of definition.nodes) {
		const index = indexOf.get(node.id) ?? 0;
		const kind = kinds.get(node.kind);
		const outgoing = graph.outgoing.get(node.id)?.length ?? 0;
		if (kind?.maxOutgoing !== undefined && outgoing > kind.maxOutgoing) {
			report({
				nodeId: node.id,
				path: `nodes[${index}]`,
				message: `A ${node.kind} node can have at most ${kind.maxOutgoing} outgoing edges.`
			});
		}
		const config = configs.get(node.id) as { mode?: string; n?: number } | undefined;
		const incoming = graph.incoming.get(node.id)?.length ?? 0;
		if (node.kind === 'join' && config?.mode === 'first-n' && (config.n ?? 0) > incoming) {
			report({
				nodeId: node.id,
				path: `nodes[${index}].config.n`,
				message: `Waits for ${config.n} branches but only ${incoming} lead here.`
			});
		}
	}
	for (const cycle of findCycles(graph)) {
		const first = cycle[0] as string;
		report({
			nodeId: first,
			path: `nodes[${indexOf.get(first)}]`,
			message: `Cycle ${[...cycle, first].join(' → ')}: repeat work with a map node instead.`
		});
	}
	if (inputNodes.length === 1) {
		const reachable = descendantsOf(graph, graph.inputNodeId);
		reachable.add(graph.inputNodeId);
		for (const node of definition.nodes) {
			if (!reachable.has(node.id)) {
				report({
					nodeId: node.id,
					path: `nodes[${indexOf.get(node.id)}]`,
					message: 'Unreachable: no path leads here from the input node.'
				});
			}
		}
	}
	if (definition.output !== undefined) {
		const message = checkExpression(definition.output);
		if (message !== null) report({ path: 'output', message });
	}
	return problems.length === 0
		? { ok: true, definition, problems: [] }
		: { ok: false, definition, problems };
}

function checkNodeConfig(
	node: Pick<WorkflowNode, 'id' | 'kind' | 'config'>,
	path: string,
	kinds: KindRegistry,
	definition: WorkflowDefinition,
	report: (problem: DefinitionProblem) => void,
	insideMap: boolean
): unknown {
	const kind = kinds.get(node.kind);
	// Child kinds execute the pieces of another step (an agent's turns): never a node of their own.
	if (!kind || kind.childOnly) {
		const known = [...kinds.values()]
			.filter((each) => !each.childOnly)
			.map((each) => each.kind)
			.join(', ');
		report({
			nodeId: node.id,
			path: `${path}.kind`,
			message: `Unknown kind "${node.kind}". Known kinds: ${known}.`
		});
		return undefined;
	}
	if (insideMap && notMappable.has(node.kind)) {
		report({
			nodeId: node.id,
			path: `${path}.kind`,
			message: `A ${node.kind} node cannot run inside a map.`
		});
		return undefined;
	}
	const parsed = kind.configSchema.safeParse(node.config);
	if (!parsed.success) {
		for (const issue of parsed.error.issues) {
			report({
				nodeId: node.id,
				path: joinPath(`${path}.config`, issue.path),
				message: issue.message
			});
		}
		return undefined;
	}
	let valid = true;
	for (const problem of kind.checkConfig?.(parsed.data, definition) ?? []) {
		valid = false;
		report({
			nodeId: node.id,
			path: joinPath(`${path}.config`, [problem.path]),
			message: problem.message
		});
	}
	if (node.kind === 'map') {
		const body = (parsed.data as { node: { kind: string; config: Record<string, unknown> } }).node;
		const inner = checkNodeConfig(
			{ id: node.id, kind: body.kind, config: body.config },
			`${path}.config.node`,
			kinds,
			definition,
			report,
			true
		);
		if (inner === undefined) valid = false;
	}
	return valid ? parsed.data : undefined;
}

/** Elementary cycles are not needed: one representative cycle per strongly connected part. */
function findCycles(graph: WorkflowGraph): string[][] {
	const cycles: string[][] = [];
	const state = new Map<string, 'open' | 'done'>();
	const stack: string[] = [];
	const visit = (id: string) => {
		state.set(id, 'open');
		stack.push(id);
		for (const edge of graph.outgoing.get(id) ?? []) {
			const next = state.get(edge.to);
			if (next === 'open') cycles.push(stack.slice(stack.indexOf(edge.to)));
			else if (next === undefined) visit(edge.to);
		}
		stack.pop();
		state.set(id, 'done');
	};
	for (const id of graph.nodes.keys()) if (!state.has(id)) visit(id);
	return cycles;
}

function joinPath(base: string, segments: readonly PropertyKey[]): string {
	let path = base;
	for (const segment of segments) {
		if (segment === '' || segment === undefined) continue;
		path += typeof segment === 'number' ? `[${segment}]` : `.${String(segment)}`;
	}
	return path;
}

function zodProblems(error: z.ZodError, raw: unknown): DefinitionProblem[] {
	return error.issues.map((issue) => {
		const problem: DefinitionProblem = {
			path: joinPath('', issue.path).replace(/^\./, '') || '(definition)',
			message: issue.message
		};
		if (issue.path[0] === 'nodes' && typeof issue.path[1] === 'number') {
			const nodes = (raw as { nodes?: unknown[] }).nodes;
			const id = (nodes?.[issue.path[1]] as { id?: unknown } | undefined)?.id;
			if (typeof id === 'string') problem.nodeId = id;
		}
		return problem;
	});
}
