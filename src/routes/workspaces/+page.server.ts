import { redirect } from '@sveltejs/kit';
import { z } from 'zod';
import { workspaceNameSchema } from '$lib/schemas/workspaces';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import {
	createWorkspace,
	listMyWorkspaces,
	switchWorkspace
} from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';

const switchSchema = z.object({
	workspaceId: z.string({ error: 'Required.' }).min(1, 'Required.')
});

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const workspaces = await listMyWorkspaces(event.locals.runtime.services, principal);
	return {
		workspaces: workspaces.map(({ id, name, role, createdAt }) => ({ id, name, role, createdAt }))
	};
};

export const actions: Actions = {
	switch: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, switchSchema);
		if ('failure' in parsed) return parsed.failure;
		try {
			await switchWorkspace(event.locals.runtime.services, principal, parsed.data.workspaceId);
		} catch (error) {
			return formError(error, parsed.values);
		}
		redirect(303, '/app');
	},
	create: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, workspaceNameSchema, ['name']);
		if ('failure' in parsed) return parsed.failure;
		const services = event.locals.runtime.services;
		let id: string;
		try {
			({ id } = await createWorkspace(services, principal, parsed.data, requestMeta(event)));
			await switchWorkspace(services, principal, id);
		} catch (error) {
			return formError(error, parsed.values);
		}
		redirect(303, `/workspaces/${id}`);
	}
};
