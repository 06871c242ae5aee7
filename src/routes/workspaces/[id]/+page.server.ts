import { redirect } from '@sveltejs/kit';
import { z } from 'zod';
import {
	inviteSchema,
	roleChangeSchema,
	workspaceNameSchema,
	workspaceRoles
} from '$lib/schemas/workspaces';
import { formError, parseForm, requestMeta, requirePrincipal } from '$lib/server/http/forms';
import { roleAtLeast } from '$lib/server/policy';
import {
	changeMemberRole,
	createInvite,
	getWorkspace,
	listInvites,
	listMembers,
	removeMember,
	renameWorkspace,
	revokeInvite
} from '$lib/server/services/workspaces';
import { orHttpError } from '$lib/server/http/load-error';
import type { Actions, PageServerLoad } from './$types';

// Every form sends a hidden `intent` that is echoed back, so a failure shows beside its own form.
const memberSchema = z.object({ userId: z.string({ error: 'Required.' }).min(1, 'Required.') });
const inviteIdSchema = z.object({ inviteId: z.string({ error: 'Required.' }).min(1, 'Required.') });

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const workspace = await orHttpError(getWorkspace(services, principal, id));
	const canManage = roleAtLeast(workspace.role, 'admin');
	const [members, invites] = await Promise.all([
		orHttpError(listMembers(services, principal, id)),
		canManage ? orHttpError(listInvites(services, principal, id)) : Promise.resolve([])
	]);
	return {
		current: { id: workspace.id, name: workspace.name, role: workspace.role },
		canManage,
		// Roles I may hand out; I can manage members whose role is not above mine.
		assignableRoles: workspaceRoles.filter((role) => roleAtLeast(workspace.role, role)),
		members: members.map((member) => ({
			...member,
			self: member.userId === principal.user.id,
			manageable: canManage && roleAtLeast(workspace.role, member.role)
		})),
		invites
	};
};

export const actions: Actions = {
	rename: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, workspaceNameSchema, ['intent', 'name']);
		if ('failure' in parsed) return parsed.failure;
		try {
			const { id } = event.params;
			await renameWorkspace(
				event.locals.runtime.services,
				principal,
				id,
				parsed.data,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		return { renamed: true };
	},
	invite: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, inviteSchema, [
			'intent',
			'role',
			'expiresInDays'
		]);
		if ('failure' in parsed) return parsed.failure;
		let invite;
		try {
			const { id } = event.params;
			invite = await createInvite(
				event.locals.runtime.services,
				principal,
				id,
				parsed.data,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		// Shown once: only the hash is stored, so the link cannot be displayed again.
		return {
			invite: {
				link: `${event.url.origin}/invite/${invite.token}`,
				role: invite.role,
				expiresAt: invite.expiresAt
			}
		};
	},
	revokeInvite: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, inviteIdSchema, ['intent', 'inviteId']);
		if ('failure' in parsed) return parsed.failure;
		try {
			await revokeInvite(
				event.locals.runtime.services,
				principal,
				event.params.id,
				parsed.data.inviteId,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		return { revoked: true };
	},
	changeRole: async (event) => {
		const principal = requirePrincipal(event);
		const schema = roleChangeSchema.extend(memberSchema.shape);
		const parsed = await parseForm(event.request, schema, ['intent', 'userId', 'role']);
		if ('failure' in parsed) return parsed.failure;
		try {
			await changeMemberRole(
				event.locals.runtime.services,
				principal,
				event.params.id,
				parsed.data.userId,
				parsed.data.role,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		return { roleChanged: parsed.data.userId };
	},
	remove: async (event) => {
		const principal = requirePrincipal(event);
		const parsed = await parseForm(event.request, memberSchema, ['intent', 'userId']);
		if ('failure' in parsed) return parsed.failure;
		try {
			await removeMember(
				event.locals.runtime.services,
				principal,
				event.params.id,
				parsed.data.userId,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, parsed.values);
		}
		return { removed: true };
	},
	leave: async (event) => {
		const principal = requirePrincipal(event);
		try {
			await removeMember(
				event.locals.runtime.services,
				principal,
				event.params.id,
				principal.user.id,
				requestMeta(event)
			);
		} catch (error) {
			return formError(error, { intent: 'leave' });
		}
		redirect(303, '/workspaces');
	}
};
