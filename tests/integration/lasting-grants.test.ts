import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createTriggerSchema } from '../../src/lib/schemas/triggers.ts';
import * as audit from '../../src/lib/server/db/audit.ts';
import { invites as invitesTable } from '../../src/lib/server/db/schema/index.ts';
import * as users from '../../src/lib/server/db/users.ts';
import * as workspacesDb from '../../src/lib/server/db/workspaces.ts';
import { ServiceError } from '../../src/lib/server/errors.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import { getRunDetail } from '../../src/lib/server/services/runs.ts';
import { fireDueSchedules } from '../../src/lib/server/services/schedules.ts';
import { authenticateApiToken, createApiToken } from '../../src/lib/server/services/tokens.ts';
import { createTrigger, listTriggers } from '../../src/lib/server/services/triggers.ts';
import {
	createWorkflow,
	saveVersion,
	starterDefinition
} from '../../src/lib/server/services/workflows.ts';
import {
	acceptInvite,
	changeMemberRole,
	createInvite,
	createWorkspace,
	describeInvite,
	getWorkspace,
	listInvites,
	listMembers,
	removeMember,
	renameWorkspace
} from '../../src/lib/server/services/workspaces.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createTestServices, meta, signUpUser } from '../helpers/services.ts';

/**
 * Grants that last beyond the moment they were made: invites (valid only while their issuer may
 * still grant their role), API tokens (bounded by their owner's role at every request) and triggers
 * (the workspace's, so they outlive the member who set them up).
 */

const testDb = useTestDatabase();
type Ctx = ReturnType<typeof createTestServices>;

async function outcome(promise: Promise<unknown>): Promise<string> {
	try {
		await promise;
		return 'ok';
	} catch (error) {
		if (error instanceof ServiceError) return error.type;
		throw error;
	}
}

/** An owner and a second member with `role` in a new workspace. */
async function workspaceWith(role: 'owner' | 'admin' | 'editor') {
	const ctx = createTestServices(testDb.database);
	const owner = await signUpUser(ctx, { name: 'Owner' });
	const { id: workspaceId } = await createWorkspace(ctx, owner.principal, { name: 'Team' }, meta);
	const invite = await createInvite(ctx, owner.principal, workspaceId, { role }, meta);
	const member = await signUpUser(ctx, { name: `The ${role}`, inviteToken: invite.token });
	return { ctx, owner, member, workspaceId };
}

/** The invite revocations recorded in a workspace, oldest first. */
async function revocations(ctx: Ctx, workspaceId: string) {
	const entries = await audit.list(ctx.db, { action: 'workspace.invite_revoked', limit: 1000 });
	return entries.filter((entry) => entry.workspaceId === workspaceId).reverse();
}

const usable = async (ctx: Ctx, token: string) => (await describeInvite(ctx, token)) !== null;

describe('an invite', () => {
	it('stops working when its issuer is demoted: a demoted admin’s invite makes no admin', async () => {
		const { ctx, owner, member: admin, workspaceId } = await workspaceWith('admin');
		const invite = await createInvite(ctx, admin.principal, workspaceId, { role: 'admin' }, meta);
		expect(await usable(ctx, invite.token)).toBe(true);

		await changeMemberRole(ctx, owner.principal, workspaceId, admin.user.id, 'editor', meta);

		expect(await usable(ctx, invite.token)).toBe(false);
		expect(await outcome(signUpUser(ctx, { inviteToken: invite.token }))).toBe('invalid');
		const existing = await signUpUser(ctx);
		expect(await outcome(acceptInvite(ctx, existing.principal, invite.token, meta))).toBe(
			'invalid'
		);
		const roles = (await listMembers(ctx, owner.principal, workspaceId)).map((m) => m.role);
		expect(roles.sort()).toEqual(['editor', 'owner']);
		expect(await listInvites(ctx, owner.principal, workspaceId)).toEqual([]);
	});

	it('is revoked by a demotion only when the new role no longer covers it, each one audited', async () => {
		const { ctx, owner, member: coOwner, workspaceId } = await workspaceWith('owner');
		const issue = (role: 'owner' | 'admin' | 'viewer', by: Principal = coOwner.principal) =>
			createInvite(ctx, by, workspaceId, { role }, meta);
		const [toOwner, toAdmin, toViewer] = [
			await issue('owner'),
			await issue('admin'),
			await issue('viewer')
		];
		const ownersOwn = await issue('owner', owner.principal);

		await changeMemberRole(ctx, owner.principal, workspaceId, coOwner.user.id, 'admin', meta);
		expect(await usable(ctx, toOwner.token)).toBe(false);
		expect(await usable(ctx, toAdmin.token)).toBe(true);
		expect(await usable(ctx, toViewer.token)).toBe(true);
		expect(await revocations(ctx, workspaceId)).toEqual([
			expect.objectContaining({
				actorUserId: owner.user.id,
				targetType: 'invite',
				targetId: toOwner.id,
				details: {
					role: 'owner',
					issuedBy: coOwner.user.id,
					issuerRole: 'admin',
					reason: 'issuer demoted'
				}
			})
		]);

		// An editor invites nobody: everything left goes.
		await changeMemberRole(ctx, owner.principal, workspaceId, coOwner.user.id, 'editor', meta);
		expect(await usable(ctx, toAdmin.token)).toBe(false);
		expect(await usable(ctx, toViewer.token)).toBe(false);
		const revoked = await revocations(ctx, workspaceId);
		expect(revoked.map((entry) => entry.targetId).sort()).toEqual(
			[toOwner.id, toAdmin.id, toViewer.id].sort()
		);
		// Another issuer's invites are theirs to answer for.
		expect(await usable(ctx, ownersOwn.token)).toBe(true);
	});

	it('is revoked when its issuer is removed or leaves; an invite already used is history', async () => {
		const { ctx, owner, member: admin, workspaceId } = await workspaceWith('admin');
		const fromRemoved = await createInvite(
			ctx,
			admin.principal,
			workspaceId,
			{ role: 'viewer' },
			meta
		);
		const used = await createInvite(ctx, admin.principal, workspaceId, { role: 'editor' }, meta);
		const joined = await signUpUser(ctx, { inviteToken: used.token });
		const toSecond = await createInvite(ctx, owner.principal, workspaceId, { role: 'admin' }, meta);
		const second = await signUpUser(ctx, { inviteToken: toSecond.token });
		const fromLeaver = await createInvite(
			ctx,
			second.principal,
			workspaceId,
			{ role: 'editor' },
			meta
		);

		await removeMember(ctx, owner.principal, workspaceId, admin.user.id, meta);
		await removeMember(ctx, second.principal, workspaceId, second.user.id, meta);

		expect(await usable(ctx, fromRemoved.token)).toBe(false);
		expect(await usable(ctx, fromLeaver.token)).toBe(false);
		expect(
			(await revocations(ctx, workspaceId)).map(({ actorUserId, targetId, details }) => ({
				actorUserId,
				targetId,
				reason: details.reason
			}))
		).toEqual([
			{ actorUserId: owner.user.id, targetId: fromRemoved.id, reason: 'issuer removed' },
			{ actorUserId: second.user.id, targetId: fromLeaver.id, reason: 'issuer left' }
		]);
		// The member the removed admin brought in stays: a used invite is not a standing grant.
		expect(
			(await listMembers(ctx, owner.principal, workspaceId)).map(({ userId, role }) => ({
				userId,
				role
			}))
		).toContainEqual({ userId: joined.user.id, role: 'editor' });
	});

	it('is checked against its issuer as they stand now, also when nothing revoked it', async () => {
		// As for invites issued before demotions revoked them: only the membership changed.
		const { ctx, owner, member: admin, workspaceId } = await workspaceWith('admin');
		const invite = await createInvite(ctx, admin.principal, workspaceId, { role: 'admin' }, meta);
		const newcomer = await signUpUser(ctx);
		await workspacesDb.setRole(ctx.db, workspaceId, admin.user.id, 'viewer');

		expect(await usable(ctx, invite.token)).toBe(false);
		expect(await outcome(acceptInvite(ctx, newcomer.principal, invite.token, meta))).toBe(
			'invalid'
		);
		expect(await outcome(signUpUser(ctx, { inviteToken: invite.token }))).toBe('invalid');
		expect(await listInvites(ctx, owner.principal, workspaceId)).toEqual([
			expect.objectContaining({ id: invite.id, usable: false })
		]);

		// Valid while the issuer may grant it, which is again the case.
		await workspacesDb.setRole(ctx.db, workspaceId, admin.user.id, 'admin');
		expect(await usable(ctx, invite.token)).toBe(true);
		// A disabled account grants nothing, nor does one that is gone.
		await users.update(ctx.db, admin.user.id, { status: 'disabled' });
		expect(await usable(ctx, invite.token)).toBe(false);
		await users.update(ctx.db, admin.user.id, { status: 'active' });
		await ctx.db
			.update(invitesTable)
			.set({ createdByUserId: null })
			.where(eq(invitesTable.id, invite.id));
		expect(await usable(ctx, invite.token)).toBe(false);
		expect(await listInvites(ctx, owner.principal, workspaceId)).toEqual([
			expect.objectContaining({ id: invite.id, issuedBy: null, usable: false })
		]);
	});

	it('is listed with who issued it', async () => {
		const { ctx, owner, member: admin, workspaceId } = await workspaceWith('admin');
		const invite = await createInvite(ctx, admin.principal, workspaceId, { role: 'viewer' }, meta);
		expect(await listInvites(ctx, owner.principal, workspaceId)).toEqual([
			{
				id: invite.id,
				role: 'viewer',
				createdAt: expect.any(Date),
				expiresAt: invite.expiresAt,
				issuedBy: { userId: admin.user.id, name: 'The admin', email: admin.email },
				usable: true
			}
		]);
	});

	it('accepted while its issuer is being demoted either gets in first or not at all', async () => {
		for (let round = 0; round < 4; round += 1) {
			const { ctx, owner, member: admin, workspaceId } = await workspaceWith('admin');
			const invite = await createInvite(ctx, admin.principal, workspaceId, { role: 'admin' }, meta);
			const joiner = await signUpUser(ctx);
			const [accepted] = await Promise.all([
				outcome(acceptInvite(ctx, joiner.principal, invite.token, meta)),
				changeMemberRole(ctx, owner.principal, workspaceId, admin.user.id, 'viewer', meta)
			]);
			const [row] = await ctx.db.select().from(invitesTable).where(eq(invitesTable.id, invite.id));
			const joined = (await listMembers(ctx, owner.principal, workspaceId)).some(
				(member) => member.userId === joiner.user.id
			);
			expect(['ok', 'invalid']).toContain(accepted);
			expect(joined).toBe(accepted === 'ok');
			// Used (before the demotion) or revoked (by it), never both.
			expect(row?.acceptedAt !== null).toBe(joined);
			expect(row?.revokedAt !== null).toBe(!joined);
		}
	});
});

describe('an API token', () => {
	it('of a demoted admin can no longer do admin things, and reaches nothing once they are removed', async () => {
		const { ctx, owner, member: admin, workspaceId } = await workspaceWith('admin');
		const { token } = await createApiToken(
			ctx,
			admin.principal,
			{ name: 'ci', scopes: ['read', 'write', 'run', 'admin'], expiresInDays: 30 },
			meta
		);
		const live = async () => {
			const principal = await authenticateApiToken(ctx, token);
			if (principal === null) throw new Error('the token stopped authenticating');
			return principal;
		};
		const viaToken = await createInvite(ctx, await live(), workspaceId, { role: 'admin' }, meta);
		await renameWorkspace(ctx, await live(), workspaceId, { name: 'Renamed by token' }, meta);

		await changeMemberRole(ctx, owner.principal, workspaceId, admin.user.id, 'editor', meta);
		const demoted = await live();
		const adminThings: Record<string, () => Promise<unknown>> = {
			rename: () => renameWorkspace(ctx, demoted, workspaceId, { name: 'Again' }, meta),
			invite: () => createInvite(ctx, demoted, workspaceId, { role: 'viewer' }, meta),
			listInvites: () => listInvites(ctx, demoted, workspaceId),
			manage: () => changeMemberRole(ctx, demoted, workspaceId, owner.user.id, 'viewer', meta)
		};
		for (const [name, attempt] of Object.entries(adminThings))
			expect([name, await outcome(attempt())]).toEqual([name, 'forbidden']);
		// What it invited while its owner was admin goes with the role.
		expect(await usable(ctx, viaToken.token)).toBe(false);
		// The editor's work still goes through it: the token is bounded by the role, not revoked.
		const workflow = createWorkflow(
			ctx,
			await live(),
			workspaceId,
			{ name: 'W', description: '' },
			meta
		);
		expect(await outcome(workflow)).toBe('ok');

		await removeMember(ctx, owner.principal, workspaceId, admin.user.id, meta);
		expect(await outcome(getWorkspace(ctx, await live(), workspaceId))).toBe('not-found');
	});
});

describe('triggers', () => {
	it('set up by an editor keep working after the editor is removed: they are the workspace’s', async () => {
		const { ctx, owner, member: editor, workspaceId } = await workspaceWith('editor');
		const workflow = await createWorkflow(
			ctx,
			owner.principal,
			workspaceId,
			{ name: 'Nightly', description: '' },
			meta
		);
		await saveVersion(
			ctx,
			owner.principal,
			workspaceId,
			workflow.id,
			{ definition: starterDefinition, note: 'First', publish: true },
			meta
		);
		const add = (input: unknown) =>
			createTrigger(
				ctx,
				editor.principal,
				workspaceId,
				workflow.id,
				createTriggerSchema.parse(input),
				meta
			);
		const schedule = await add({
			kind: 'schedule',
			name: 'Nightly',
			config: { cron: '0 0 * * *' }
		});
		const hook = await add({ kind: 'webhook', name: 'Hook', config: {} });

		await removeMember(ctx, owner.principal, workspaceId, editor.user.id, meta);

		expect(await listTriggers(ctx, owner.principal, workspaceId, workflow.id)).toEqual(
			expect.arrayContaining([
				expect.objectContaining({ id: schedule.trigger.id, enabled: true }),
				expect.objectContaining({ id: hook.trigger.id, enabled: true })
			])
		);
		const due = schedule.trigger.nextFireAt;
		if (due === null) throw new Error('the schedule has no next tick');
		const firings = await fireDueSchedules(ctx, new Date(due.getTime() + 1_000));
		expect(firings).toMatchObject([{ triggerId: schedule.trigger.id, created: true }]);
		// It runs as the system, on the version the workspace published, not as the editor.
		const { run } = await getRunDetail(ctx, owner.principal, workspaceId, firings[0]?.runId ?? '');
		expect(run).toMatchObject({
			trigger: 'schedule',
			triggerId: schedule.trigger.id,
			createdBy: null
		});
	});
});
