import { redirect } from '@sveltejs/kit';
import { z } from 'zod';
import {
	inviteSchema,
	roleChangeSchema,
	workspaceNameSchema,
	workspaceRoles
} from '$lib/schemas/workspaces';
import { requirePrincipal, runFormAction } from '$lib/server/http/forms';
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
import { getBudget, setBudget } from '$lib/server/services/usage';
import type { Actions, PageServerLoad } from './$types';
import { budgetFields, budgetFormSchema } from './budget-form';

// Every form sends a hidden `intent` that is echoed back, so a failure shows beside its own form.
const memberSchema = z.object({ userId: z.string({ error: 'Required.' }).min(1, 'Required.') });
const inviteIdSchema = z.object({ inviteId: z.string({ error: 'Required.' }).min(1, 'Required.') });

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const workspace = await orHttpError(getWorkspace(services, principal, id));
	const canManage = roleAtLeast(workspace.role, 'admin');
	const [members, invites, budget] = await Promise.all([
		orHttpError(listMembers(services, principal, id)),
		canManage ? orHttpError(listInvites(services, principal, id)) : Promise.resolve([]),
		orHttpError(getBudget(services, principal, id))
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
		invites,
		budget
	};
};

export const actions: Actions = {
	rename: (event) =>
		runFormAction(event, workspaceNameSchema, ['intent', 'name'], async (c) => {
			await renameWorkspace(c.services, c.principal, event.params.id, c.data, c.meta);
			return { renamed: true };
		}),
	invite: (event) =>
		runFormAction(event, inviteSchema, ['intent', 'role', 'expiresInDays'], async (c) => {
			const invite = await createInvite(c.services, c.principal, event.params.id, c.data, c.meta);
			// Shown once: only the hash is stored, so the link cannot be displayed again.
			const link = `${event.url.origin}/invite/${invite.token}`;
			return { invite: { link, role: invite.role, expiresAt: invite.expiresAt } };
		}),
	revokeInvite: (event) =>
		runFormAction(event, inviteIdSchema, ['intent', 'inviteId'], async (c) => {
			await revokeInvite(c.services, c.principal, event.params.id, c.data.inviteId, c.meta);
			return { revoked: true };
		}),
	changeRole: (event) =>
		runFormAction(
			event,
			roleChangeSchema.extend(memberSchema.shape),
			['intent', 'userId', 'role'],
			async (c) => {
				const { userId, role } = c.data;
				await changeMemberRole(c.services, c.principal, event.params.id, userId, role, c.meta);
				return { roleChanged: userId };
			}
		),
	remove: (event) =>
		runFormAction(event, memberSchema, ['intent', 'userId'], async (c) => {
			await removeMember(c.services, c.principal, event.params.id, c.data.userId, c.meta);
			return { removed: true };
		}),
	budget: (event) =>
		runFormAction(event, budgetFormSchema, ['intent', ...budgetFields], async (c) => {
			await setBudget(c.services, c.principal, event.params.id, c.data, c.meta);
			return { budgetSaved: true };
		}),
	leave: (event) =>
		runFormAction(event, z.object({}), ['intent'], async (c) => {
			await removeMember(c.services, c.principal, event.params.id, c.principal.user.id, c.meta);
			redirect(303, '/workspaces');
		})
};
