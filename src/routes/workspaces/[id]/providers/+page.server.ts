import { providerKinds } from '$lib/schemas/agents';
import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import { listCredentials } from '$lib/server/services/credentials';
import {
	createProvider,
	deleteProvider,
	listProviders,
	testProvider,
	updateProvider
} from '$lib/server/services/providers';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';
import {
	createProviderFormSchema,
	deleteProviderFormSchema,
	providerFormEcho,
	updateProviderFormSchema
} from './schema';

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const [workspace, providers, credentials] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listProviders(services, principal, id)),
		orHttpError(listCredentials(services, principal, id))
	]);
	const canManage = roleAtLeast(workspace.role, 'editor');
	const { searchParams } = event.url;
	return {
		workspace: { id: workspace.id, name: workspace.name },
		canManage,
		providers,
		// The API keys a provider may use: names and kinds only.
		keys: credentials
			.filter((credential) => credential.kind === 'openai' || credential.kind === 'anthropic')
			.map(({ id, name, kind }) => ({ id, name, kind })),
		kind: providerKinds.find((kind) => kind === searchParams.get('kind')) ?? 'openai',
		editing: canManage
			? (providers.find((provider) => provider.id === searchParams.get('edit')) ?? null)
			: null
	};
};

export const actions: Actions = {
	create: (event) =>
		runFormAction(event, createProviderFormSchema, providerFormEcho, async (c) => {
			const { services, principal, meta, data } = c;
			const created = await createProvider(services, principal, event.params.id, data, meta);
			return { created: { id: created.id, name: created.name } };
		}),
	update: (event) =>
		runFormAction(event, updateProviderFormSchema, providerFormEcho, async (c) => {
			const { providerId, patch } = c.data;
			const { services, principal, meta } = c;
			const updated = await updateProvider(
				services,
				principal,
				event.params.id,
				providerId,
				patch,
				meta
			);
			return { updated: { name: updated.name } };
		}),
	test: (event) =>
		runFormAction(event, deleteProviderFormSchema, ['intent', 'providerId'], async (c) => {
			const { services, principal, data } = c;
			return { tested: await testProvider(services, principal, event.params.id, data.providerId) };
		}),
	delete: (event) =>
		runFormAction(event, deleteProviderFormSchema, ['intent', 'providerId'], async (c) => {
			const { services, principal, meta, data } = c;
			await deleteProvider(services, principal, event.params.id, data.providerId, meta);
			return { deleted: true };
		})
};
