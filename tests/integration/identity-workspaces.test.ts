import { describe, expect, it } from 'vitest';
import { signIn } from '../../src/lib/server/services/accounts.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import {
	acceptInvite,
	changeMemberRole,
	createInvite,
	createWorkspace,
	getWorkspace,
	listInvites,
	listMembers,
	removeMember,
	renameWorkspace,
	revokeInvite
} from '../../src/lib/server/services/workspaces.ts';
import { useTestDatabase } from '../helpers/database.ts';
import {
	createTestServices,
	meta,
	principalFor,
	signUpUser,
	strongPassword
} from '../helpers/services.ts';

const testDb = useTestDatabase();

async function outcome(promise: Promise<unknown>): Promise<string> {
	try {
		await promise;
		return 'ok';
	} catch (error) {
		if (error instanceof ServiceError) return error.type;
		throw error;
	}
}

/** A workspace with one member of each role (plus an outsider), all as session principals. */
async function team() {
	const ctx = createTestServices(testDb.database);
	const owner = await signUpUser(ctx, { name: 'Owner' });
	const workspace = await createWorkspace(ctx, owner.principal, { name: 'Team' }, meta);
	const members: Record<string, Principal> = { owner: owner.principal };
	for (const role of ['admin', 'editor', 'viewer'] as const) {
		const invite = await createInvite(ctx, owner.principal, workspace.id, { role }, meta);
		const joined = await signUpUser(ctx, { name: role, inviteToken: invite.token });
		members[role] = joined.principal;
	}
	const outsider = await signUpUser(ctx, { name: 'Outsider' });
	return { ctx, workspace, members, outsider: outsider.principal };
}

describe('workspace services: the role matrix', () => {
	it('lets each role do exactly what its role allows, and answers 404 to outsiders', async () => {
		const { ctx, workspace, members, outsider } = await team();
		const id = workspace.id;
		const actions: Record<string, (principal: Principal) => Promise<unknown>> = {
			read: (p) => getWorkspace(ctx, p, id),
			listMembers: (p) => listMembers(ctx, p, id),
			rename: (p) => renameWorkspace(ctx, p, id, { name: 'Renamed' }, meta),
			invite: (p) => createInvite(ctx, p, id, { role: 'viewer' }, meta),
			listInvites: (p) => listInvites(ctx, p, id)
		};
		const expected: Record<string, Record<string, string>> = {
			owner: { read: 'ok', listMembers: 'ok', rename: 'ok', invite: 'ok', listInvites: 'ok' },
			admin: { read: 'ok', listMembers: 'ok', rename: 'ok', invite: 'ok', listInvites: 'ok' },
			editor: {
				read: 'ok',
				listMembers: 'ok',
				rename: 'forbidden',
				invite: 'forbidden',
				listInvites: 'forbidden'
			},
			viewer: {
				read: 'ok',
				listMembers: 'ok',
				rename: 'forbidden',
				invite: 'forbidden',
				listInvites: 'forbidden'
			},
			outsider: {
				read: 'not-found',
				listMembers: 'not-found',
				rename: 'not-found',
				invite: 'not-found',
				listInvites: 'not-found'
			}
		};
		const principals = { ...members, outsider };
		for (const [who, principal] of Object.entries(principals)) {
			for (const [action, run] of Object.entries(actions)) {
				expect(`${who} ${action}: ${await outcome(run(principal as Principal))}`).toBe(
					`${who} ${action}: ${expected[who]?.[action]}`
				);
			}
		}
	});

	it('keeps roles in order: admins cannot touch owners or grant owner; editors manage nobody', async () => {
		const { ctx, workspace, members } = await team();
		const id = workspace.id;
		const admin = members.admin as Principal;
		const editor = members.editor as Principal;
		expect(
			await outcome(
				changeMemberRole(ctx, admin, id, (members.owner as Principal).user.id, 'viewer', meta)
			)
		).toBe('forbidden');
		expect(
			await outcome(
				changeMemberRole(ctx, admin, id, (members.viewer as Principal).user.id, 'owner', meta)
			)
		).toBe('forbidden');
		expect(await outcome(createInvite(ctx, admin, id, { role: 'owner' }, meta))).toBe('forbidden');
		expect(
			await outcome(
				changeMemberRole(ctx, admin, id, (members.viewer as Principal).user.id, 'editor', meta)
			)
		).toBe('ok');
		expect(
			await outcome(removeMember(ctx, editor, id, (members.viewer as Principal).user.id, meta))
		).toBe('forbidden');
		expect(
			await outcome(removeMember(ctx, admin, id, (members.viewer as Principal).user.id, meta))
		).toBe('ok');
		expect(
			await outcome(removeMember(ctx, admin, id, '00000000-0000-4000-8000-000000000000', meta))
		).toBe('not-found');
	});

	it('never leaves a workspace without an owner, even under concurrent demotions', async () => {
		const { ctx, workspace, members } = await team();
		const id = workspace.id;
		const owner = members.owner as Principal;
		expect(await outcome(removeMember(ctx, owner, id, owner.user.id, meta))).toBe('conflict');
		expect(await outcome(changeMemberRole(ctx, owner, id, owner.user.id, 'admin', meta))).toBe(
			'conflict'
		);
		await changeMemberRole(ctx, owner, id, (members.admin as Principal).user.id, 'owner', meta);
		const secondOwner = await principalFor(
			ctx,
			(
				await signIn(
					ctx,
					{ email: (members.admin as Principal).user.email, password: strongPassword },
					meta
				)
			).token
		);
		const results = await Promise.all([
			outcome(changeMemberRole(ctx, owner, id, secondOwner.user.id, 'viewer', meta)),
			outcome(changeMemberRole(ctx, secondOwner, id, owner.user.id, 'viewer', meta))
		]);
		// Serialized per workspace: whoever goes second is no longer an owner and is refused.
		expect(results.sort()).toEqual(['forbidden', 'ok']);
		const owners = (await listMembers(ctx, owner, id)).filter((member) => member.role === 'owner');
		expect(owners).toHaveLength(1);
	});

	it('makes invite links single-use, also when two people accept at once, and honours revocation and expiry', async () => {
		const { ctx, workspace, members } = await team();
		const owner = members.owner as Principal;
		const [a, b] = [await signUpUser(ctx), await signUpUser(ctx)];
		const invite = await createInvite(ctx, owner, workspace.id, { role: 'viewer' }, meta);
		const results = await Promise.all([
			outcome(acceptInvite(ctx, a.principal, invite.token, meta)),
			outcome(acceptInvite(ctx, b.principal, invite.token, meta))
		]);
		expect(results.sort()).toEqual(['invalid', 'ok']);

		const revoked = await createInvite(ctx, owner, workspace.id, { role: 'viewer' }, meta);
		await revokeInvite(ctx, owner, workspace.id, revoked.id, meta);
		expect(await outcome(acceptInvite(ctx, b.principal, revoked.token, meta))).toBe('invalid');

		const expiring = await createInvite(
			ctx,
			owner,
			workspace.id,
			{ role: 'viewer', expiresInDays: 1 },
			meta
		);
		ctx.clock.advance(24 * 60 * 60 * 1000 + 1);
		expect(await outcome(acceptInvite(ctx, b.principal, expiring.token, meta))).toBe('invalid');
	});
});
