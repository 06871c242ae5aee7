import { json } from '@sveltejs/kit';
import { validateDefinitionSchema } from '$lib/schemas/engine-api';
import { api, readJson } from '$lib/server/http/api';
import { validateWorkflowDefinition } from '$lib/server/services/workflows';
import type { RequestHandler } from './$types';

/** Checks a definition without saving it: 200 with every problem found (none: `[]`). */
export const POST: RequestHandler = (event) =>
	api(event, async ({ principal, services }) => {
		const { definition } = await readJson(event.request, validateDefinitionSchema);
		const problems = await validateWorkflowDefinition(
			services,
			principal,
			event.params.id,
			event.params.workflowId,
			definition
		);
		return json({ problems });
	});
