import { z } from 'zod';
import {
	createCredentialSchema,
	credentialKinds,
	updateCredentialSchema
} from '$lib/schemas/credentials';
import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import {
	createCredential,
	deleteCredential,
	listCredentials,
	updateCredential
} from '$lib/server/services/credentials';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';

// Secrets are never echoed back into a form, not even after a failed submit.
const settingsEcho = ['name', 'headerName', 'username', 'baseUrl', 'organization'];
const credentialIdSchema = z.string({ error: 'Required.' }).min(1, 'Required.').max(64);
const updateFormSchema = updateCredentialSchema.extend({ credentialId: credentialIdSchema });
const deleteFormSchema = z.object({ credentialId: credentialIdSchema });

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const [workspace, credentials] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listCredentials(services, principal, id))
	]);
	const canManage = roleAtLeast(workspace.role, 'editor');
	const { searchParams } = event.url;
	return {
		workspace: { id: workspace.id, name: workspace.name },
		canManage,
		credentials,
		kind: credentialKinds.find((kind) => kind === searchParams.get('kind')) ?? 'api_key',
		editing: canManage
			? (credentials.find((credential) => credential.id === searchParams.get('edit')) ?? null)
			: null
	};
};

export const actions: Actions = {
	create: (event) =>
		runFormAction(event, createCredentialSchema, ['intent', 'kind', ...settingsEcho], async (c) => {
			const { services, principal, meta, data } = c;
			const created = await createCredential(services, principal, event.params.id, data, meta);
			return { created: { name: created.name } };
		}),
	update: (event) =>
		runFormAction(
			event,
			updateFormSchema,
			['intent', 'credentialId', ...settingsEcho],
			async (c) => {
				const { credentialId, ...patch } = c.data;
				const { services, principal, meta } = c;
				const updated = await updateCredential(
					services,
					principal,
					event.params.id,
					credentialId,
					patch,
					meta
				);
				return { updated: { name: updated.name } };
			}
		),
	delete: (event) =>
		runFormAction(event, deleteFormSchema, ['intent', 'credentialId'], async (c) => {
			const { services, principal, meta, data } = c;
			await deleteCredential(services, principal, event.params.id, data.credentialId, meta);
			return { deleted: true };
		})
};
