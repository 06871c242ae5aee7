import { fail, redirect } from '@sveltejs/kit';
import { parseJsonText } from '$lib/schemas/storable';
import { z } from 'zod';
import { workflowMetaSchema } from '$lib/schemas/workflow';
import { runFormAction, requirePrincipal } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import { getWorkspace } from '$lib/server/services/workspaces';
import { createWorkflow, importWorkflow, listWorkflows } from '$lib/server/services/workflows';
import { DefinitionError } from '$lib/server/errors';
import type { Actions, PageServerLoad } from './$types';

const importSchema = z.object({
	export: z
		.string({ error: 'Required.' })
		.trim()
		.min(1, 'Paste the exported JSON.')
		.max(500_000, 'The export is too large.')
});

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const [workspace, workflows] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listWorkflows(services, principal, id))
	]);
	return {
		workspace: { id: workspace.id, name: workspace.name },
		canEdit: roleAtLeast(workspace.role, 'editor'),
		workflows: workflows.map((workflow) => ({
			id: workflow.id,
			name: workflow.name,
			description: workflow.description,
			latestVersion: workflow.latestVersion,
			publishedVersion: workflow.publishedNumber,
			updatedAt: workflow.updatedAt
		}))
	};
};

export const actions: Actions = {
	create: (event) =>
		runFormAction(event, workflowMetaSchema, ['intent', 'name', 'description'], async (c) => {
			const workflow = await createWorkflow(
				c.services,
				c.principal,
				event.params.id,
				c.data,
				c.meta
			);
			redirect(303, `/workspaces/${event.params.id}/workflows/${workflow.id}`);
		}),
	import: (event) =>
		runFormAction(event, importSchema, ['intent', 'export'], async (c) => {
			const values = { intent: 'import', export: c.data.export };
			const parsed = parseJsonText(c.data.export);
			if (!parsed.ok) {
				return fail(400, {
					message: 'This is not a valid export.',
					fields: { export: parsed.message },
					values
				});
			}
			const raw = parsed.value;
			let workflow;
			try {
				workflow = await importWorkflow(c.services, c.principal, event.params.id, raw, c.meta);
			} catch (error) {
				// The export itself is fine but its definition is not: list what to fix in it.
				if (!(error instanceof DefinitionError)) throw error;
				return fail(400, { message: error.message, problems: error.problems, values });
			}
			redirect(303, `/workspaces/${event.params.id}/workflows/${workflow.id}`);
		})
};
