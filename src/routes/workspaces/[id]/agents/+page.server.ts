import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import { createAgent, deleteAgent, listAgents, updateAgent } from '$lib/server/services/agents';
import { listCredentials } from '$lib/server/services/credentials';
import { listProviders } from '$lib/server/services/providers';
import { listWorkspaceTools } from '$lib/server/services/tools';
import { listWorkflows } from '$lib/server/services/workflows';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';
import { agentFormSchema, deleteAgentFormSchema } from './schema';

// Nothing on the agent form is secret: every field a failed submit sent is echoed back.
const echoAll = () => true;

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const [workspace, agents, providers, tools, workflows, credentials] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listAgents(services, principal, id)),
		orHttpError(listProviders(services, principal, id)),
		orHttpError(listWorkspaceTools(services, principal, id)),
		orHttpError(listWorkflows(services, principal, id)),
		orHttpError(listCredentials(services, principal, id))
	]);
	const canManage = roleAtLeast(workspace.role, 'editor');
	const editId = event.url.searchParams.get('edit');
	return {
		workspace: { id: workspace.id, name: workspace.name },
		canManage,
		agents,
		// What the form picks from: names, never raw ids to type.
		providers: providers.map(({ id, name, kind, defaultModel }) => ({
			id,
			name,
			kind,
			defaultModel
		})),
		tools: tools.map(({ id, name, description, requiresApproval, builtIn }) => ({
			id,
			name,
			description,
			requiresApproval,
			builtIn
		})),
		workflows: workflows
			.filter((workflow) => workflow.publishedNumber !== null)
			.map(({ id, name, description }) => ({ id, name, description })),
		credentials: credentials.map(({ id, name, kind }) => ({ id, name, kind })),
		editing: canManage ? (agents.find((agent) => agent.id === editId) ?? null) : null
	};
};

export const actions: Actions = {
	create: (event) =>
		runFormAction(event, agentFormSchema, echoAll, async (c) => {
			const { services, principal, meta, data } = c;
			const created = await createAgent(services, principal, event.params.id, data.agent, meta);
			return { created: { id: created.id, name: created.name } };
		}),
	update: (event) =>
		runFormAction(event, agentFormSchema, echoAll, async (c) => {
			const { services, principal, meta, data } = c;
			const { agentId, agent } = data;
			const updated = await updateAgent(services, principal, event.params.id, agentId, agent, meta);
			return { updated: { name: updated.name } };
		}),
	delete: (event) =>
		runFormAction(event, deleteAgentFormSchema, ['intent', 'agentId'], async (c) => {
			const { services, principal, meta, data } = c;
			await deleteAgent(services, principal, event.params.id, data.agentId, meta);
			return { deleted: true };
		})
};
