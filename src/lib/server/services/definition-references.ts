import { sql } from 'drizzle-orm';
import type { DefinitionProblem, WorkflowDefinition } from '../../schemas/workflow.ts';
import type { Db } from '../db/index.ts';
import { rows } from '../db/migrate.ts';
import { isUuid } from '../ids.ts';

// A definition's `llm` and `agent` nodes name a model provider or a saved agent by id: one that does
// not exist in the workspace is reported when the definition is saved or checked, with the node and
// path, rather than failing every run of it later.

interface Reference {
	nodeId: string;
	path: string;
	table: 'model_providers' | 'agents';
	id: string;
}

const referenceFields = { providerId: 'model_providers', agentId: 'agents' } as const;

function referencesOf(definition: WorkflowDefinition): Reference[] {
	const found: Reference[] = [];
	definition.nodes.forEach((node, index) => {
		// A map runs its body node once per item: its references are the body's.
		const body =
			node.kind === 'map'
				? (node.config as { node?: { kind?: string; config?: unknown } }).node
				: null;
		const [kind, config, path] = body
			? [body.kind, body.config, `nodes[${index}].config.node.config`]
			: [node.kind, node.config, `nodes[${index}].config`];
		if (kind !== 'agent' && kind !== 'llm') return;
		for (const [field, table] of Object.entries(referenceFields)) {
			const id = (config as Record<string, unknown> | undefined)?.[field];
			if (typeof id === 'string' && isUuid(id))
				found.push({ nodeId: node.id, path: `${path}.${field}`, table, id });
		}
	});
	return found;
}

/** A problem for each provider or agent a node names that the workspace does not have. */
export async function missingReferences(
	db: Db,
	workspaceId: string,
	definition: WorkflowDefinition
): Promise<DefinitionProblem[]> {
	const references = referencesOf(definition);
	if (references.length === 0) return [];
	const ids = JSON.stringify(references.map((reference) => reference.id));
	const result = await db.execute(sql`
		select id::text from model_providers
		where workspace_id = ${workspaceId} and id in (select jsonb_array_elements_text(${ids}::jsonb)::uuid)
		union all
		select id::text from agents
		where workspace_id = ${workspaceId} and id in (select jsonb_array_elements_text(${ids}::jsonb)::uuid)
	`);
	const existing = new Set(rows<{ id: string }>(result).map((row) => row.id));
	return references
		.filter((reference) => !existing.has(reference.id))
		.map(({ nodeId, path, table }) => ({
			nodeId,
			path,
			message:
				table === 'agents'
					? 'No saved agent with this id in this workspace.'
					: 'No model provider with this id in this workspace.'
		}));
}
