import type { DefinitionProblem } from '$lib/schemas/workflow';
import { parseJsonText } from '$lib/schemas/storable';

export interface OutlineNode {
	/** Null when the node has no usable id yet (the user is still typing it). */
	id: string | null;
	kind: string | null;
	problems: DefinitionProblem[];
}

/** The editor's view of a definition: its nodes, each with its problems, and the problems of no node. */
export interface DefinitionOutline {
	general: DefinitionProblem[];
	nodes: OutlineNode[];
}

/** The editor text as JSON, or why it is not JSON as a problem of the whole definition. */
export function parseDefinitionText(
	text: string
): { ok: true; value: unknown } | { ok: false; problem: DefinitionProblem } {
	const parsed = parseJsonText(text);
	if (parsed.ok) return parsed;
	return { ok: false, problem: { path: parsed.path ?? '(definition)', message: parsed.message } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Puts each problem under its node: by the node index in its path first (right even when two nodes
 * share an id), then by its node id (an edge's problem belongs to the node it leaves).
 */
export function outlineDefinition(
	definition: unknown,
	problems: readonly DefinitionProblem[]
): DefinitionOutline {
	const raw = isRecord(definition) && Array.isArray(definition.nodes) ? definition.nodes : [];
	const nodes: OutlineNode[] = raw.map((node: unknown) => ({
		id: isRecord(node) && typeof node.id === 'string' ? node.id : null,
		kind: isRecord(node) && typeof node.kind === 'string' ? node.kind : null,
		problems: []
	}));
	const general: DefinitionProblem[] = [];
	for (const problem of problems) {
		const index = /^nodes\[(\d+)\]/.exec(problem.path)?.[1];
		const owner =
			(index === undefined ? undefined : nodes[Number(index)]) ??
			(problem.nodeId === undefined ? undefined : nodes.find((node) => node.id === problem.nodeId));
		(owner?.problems ?? general).push(problem);
	}
	return { general, nodes };
}
