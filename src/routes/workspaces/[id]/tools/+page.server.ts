import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import {
	createTool,
	deleteTool,
	getTool,
	listWorkspaceTools,
	testTool,
	updateTool
} from '$lib/server/services/tools';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';
import {
	deleteToolFormSchema,
	testToolFormSchema,
	toolFormEcho,
	toolFormSchema,
	updateToolFormSchema
} from './schema';

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const [workspace, tools] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listWorkspaceTools(services, principal, id))
	]);
	const canManage = roleAtLeast(workspace.role, 'editor');
	const editId = event.url.searchParams.get('edit');
	const known = tools.some((tool) => tool.id !== undefined && tool.id === editId);
	return {
		workspace: { id: workspace.id, name: workspace.name },
		canManage,
		tools,
		editing:
			canManage && editId !== null && known ? await getTool(services, principal, id, editId) : null
	};
};

export const actions: Actions = {
	create: (event) =>
		runFormAction(event, toolFormSchema, toolFormEcho, async (c) => {
			const { services, principal, meta, data } = c;
			const created = await createTool(services, principal, event.params.id, data, meta);
			return { created: { id: created.id, name: created.name } };
		}),
	update: (event) =>
		runFormAction(event, updateToolFormSchema, toolFormEcho, async (c) => {
			const { toolId, ...patch } = c.data;
			const { services, principal, meta } = c;
			const updated = await updateTool(services, principal, event.params.id, toolId, patch, meta);
			return { updated: { name: updated.name } };
		}),
	delete: (event) =>
		runFormAction(event, deleteToolFormSchema, ['intent', 'toolId'], async (c) => {
			const { services, principal, meta, data } = c;
			await deleteTool(services, principal, event.params.id, data.toolId, meta);
			return { deleted: true };
		}),
	test: (event) =>
		runFormAction(event, testToolFormSchema, ['intent', 'toolId', 'input'], async (c) => {
			const { services, principal, data } = c;
			const result = await testTool(services, principal, event.params.id, data.toolId, data.input);
			const input = JSON.stringify(data.input, null, 2);
			return { tested: { toolId: data.toolId, input, result } };
		})
};
