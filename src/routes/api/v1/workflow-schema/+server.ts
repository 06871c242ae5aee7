import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { workflowDefinitionSchema } from '$lib/schemas/workflow';
import type { KindRegistry } from '$lib/server/engine/definition';
import { api } from '$lib/server/http/api';
import type { RequestHandler } from './$types';

// What an editor or a client library validates against; node configs are checked per kind on save.
const definitionJsonSchema = z.toJSONSchema(workflowDefinitionSchema, { io: 'input' });

type KindSchema = { kind: string; description: string; configSchema: unknown };
const described = new WeakMap<KindRegistry, KindSchema[]>();

/** Each node kind a definition may use, with the JSON Schema of its config (in the registry's order). */
function kindSchemas(kinds: KindRegistry): KindSchema[] {
	let list = described.get(kinds);
	if (list === undefined) {
		list = [...kinds.values()]
			.filter((kind) => !kind.childOnly)
			.map((kind) => {
				const configSchema = z.toJSONSchema(kind.configSchema, {
					io: 'input',
					unrepresentable: 'any'
				});
				delete (configSchema as { $schema?: string }).$schema;
				return { kind: kind.kind, description: kind.description, configSchema };
			});
		described.set(kinds, list);
	}
	return list;
}

/** The definition's JSON Schema, and under `x-awe-kinds` every node kind with its config schema. */
export const GET: RequestHandler = (event) =>
	api(event, async ({ services }) =>
		json({ ...definitionJsonSchema, 'x-awe-kinds': kindSchemas(services.kinds) })
	);
