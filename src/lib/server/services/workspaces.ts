import { isUuid } from '../ids.ts';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import * as invites from '../db/invites.ts';
import type { InviteWithIssuer } from '../db/invites.ts';
import type { WorkspaceRole } from '../db/schema/index.ts';
import * as sessions from '../db/sessions.ts';
import * as workspaces from '../db/workspaces.ts';
import { randomToken, sha256Hex } from '../platform/crypto.ts';
import {
	can,
	hasScope,
	mayGrantRole,
	roleAtLeast,
	type WorkspaceAction,
	type WorkspaceResource
} from '../policy.ts';
import { workspaceRoles } from '../../schemas/workspaces.ts';
import { audited, recordAudit } from './audit.ts';
import { ServiceError, missingScope, notFound } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { announceAccessChange } from '../bus/access.ts';

const inviteLifetimeDays = { default: 7, max: 30 };

/**
 * Loads the principal's standing in a workspace and checks the action. Not a member (or no such
 * workspace) answers 404 so ids cannot be probed; a member without the right answers 403.
 */
export async function authorizeWorkspace(
	db: Db,
	principal: Principal,
	workspaceId: string,
	action: WorkspaceAction
): Promise<WorkspaceResource & { role: WorkspaceRole }> {
	const membership = isUuid(workspaceId)
		? await workspaces.getMembership(db, workspaceId, principal.user.id)
		: null;
	if (membership === null) throw notFound('Workspace not found.');
	const resource = { workspaceId, role: membership.role };
	if (!can(principal, action, resource))
		throw new ServiceError('forbidden', 'Your role in this workspace does not allow that.');
	return resource;
}

/**
 * Owner changes are serialized per workspace so that two concurrent demotions cannot leave it
 * ownerless. Only members get to take the lock, and a malformed id never reaches the database.
 */
async function lockWorkspace(db: Db, principal: Principal, workspaceId: string): Promise<void> {
	if (
		!isUuid(workspaceId) ||
		!(await workspaces.getMembership(db, workspaceId, principal.user.id))
	) {
		throw notFound('Workspace not found.');
	}
	await db.execute(sql`select pg_advisory_xact_lock(hashtext(${'workspace:' + workspaceId}))`);
}

export async function listMyWorkspaces(ctx: ServiceContext, principal: Principal) {
	if (!hasScope(principal, 'read')) throw missingScope('read');
	return workspaces.listForUser(ctx.db, principal.user.id);
}

export async function getWorkspace(ctx: ServiceContext, principal: Principal, workspaceId: string) {
	const { role } = await authorizeWorkspace(ctx.db, principal, workspaceId, 'workspace.read');
	const workspace = await workspaces.get(ctx.db, workspaceId);
	if (!workspace) throw notFound('Workspace not found.');
	return { ...workspace, role };
}

export async function createWorkspace(
	ctx: ServiceContext,
	principal: Principal,
	input: { name: string },
	meta: RequestMeta
) {
	if (!hasScope(principal, 'write')) throw missingScope('write');
	return ctx.db.transaction(async (tx) => {
		const slugBase =
			input.name
				.toLowerCase()
				.replace(/[^a-z0-9]+/g, '-')
				.replace(/^-|-$/g, '')
				.slice(0, 32) || 'workspace';
		const workspace = await workspaces.create(tx, {
			name: input.name,
			slug: `${slugBase}-${randomToken(5)}`
		});
		await workspaces.addMember(tx, {
			workspaceId: workspace.id,
			userId: principal.user.id,
			role: 'owner'
		});
		await recordAudit(tx, meta, {
			action: 'workspace.created',
			actorUserId: principal.user.id,
			workspaceId: workspace.id,
			target: { type: 'workspace', id: workspace.id }
		});
		return { ...workspace, role: 'owner' as const };
	});
}

export async function renameWorkspace(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: { name: string },
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workspace.update');
	return audited(
		ctx.db,
		meta,
		async (tx) => {
			const workspace = await workspaces.rename(tx, workspaceId, input.name);
			if (!workspace) throw notFound('Workspace not found.');
			return workspace;
		},
		{
			action: 'workspace.renamed',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'workspace', id: workspaceId },
			details: { name: input.name }
		}
	);
}

export async function switchWorkspace(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string
): Promise<void> {
	if (principal.kind !== 'session')
		throw new ServiceError('invalid', 'Only browser sessions have a current workspace.');
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'workspace.read');
	await sessions.update(ctx.db, principal.session.id, { activeWorkspaceId: workspaceId });
}

export async function listMembers(ctx: ServiceContext, principal: Principal, workspaceId: string) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'members.read');
	return workspaces.listMembers(ctx.db, workspaceId);
}

export async function createInvite(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	input: { role: WorkspaceRole; expiresInDays?: number },
	meta: RequestMeta
) {
	const days = Math.min(input.expiresInDays ?? inviteLifetimeDays.default, inviteLifetimeDays.max);
	const token = randomToken(20);
	const invite = await audited(
		ctx.db,
		meta,
		async (tx) => {
			// Under the lock that role changes take, so the issuer's demotion (which revokes what they
			// can no longer grant) cannot fall between this check and the insert.
			await lockWorkspace(tx, principal, workspaceId);
			const { role: myRole } = await authorizeWorkspace(
				tx,
				principal,
				workspaceId,
				'members.invite'
			);
			if (!mayGrantRole(myRole, input.role))
				throw new ServiceError('forbidden', 'You cannot invite someone to a role above your own.');
			return invites.create(tx, {
				workspaceId,
				tokenHash: sha256Hex(token),
				role: input.role,
				createdByUserId: principal.user.id,
				expiresAt: new Date(ctx.now().getTime() + days * 24 * 60 * 60 * 1000)
			});
		},
		(created) => ({
			action: 'workspace.invite_created',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'invite', id: created.id },
			details: { role: created.role, expiresAt: created.expiresAt }
		})
	);
	return { id: invite.id, role: invite.role, expiresAt: invite.expiresAt, token };
}

/** Whether an invite's issuer, as they stand now, may still grant its role. */
function issuerStillGrants({ invite, issuer }: InviteWithIssuer): boolean {
	return issuer !== null && issuer.status === 'active' && mayGrantRole(issuer.role, invite.role);
}

/**
 * The invite behind a link when it can be accepted now: open (not used, revoked or expired), and its
 * issuer still holds a role that may grant its role. Null otherwise, whatever the reason.
 */
export async function findUsableInvite(db: Db, token: string, now: Date) {
	const found = await invites.getOpen(db, sha256Hex(token), now);
	return found !== null && issuerStillGrants(found) ? found : null;
}

/**
 * Revokes, in the caller's transaction, the open invites a member issued that their new standing
 * (`role`, null when they are gone) no longer covers; one audit entry for each.
 */
async function revokeInvitesNoLongerGranted(
	tx: Db,
	meta: RequestMeta,
	actor: Principal,
	workspaceId: string,
	issuerId: string,
	role: WorkspaceRole | null,
	reason: 'issuer demoted' | 'issuer removed' | 'issuer left',
	now: Date
): Promise<void> {
	const lost = workspaceRoles.filter((invited) => !mayGrantRole(role, invited));
	const revoked = await invites.revokeOpenIssuedBy(tx, workspaceId, issuerId, lost, now);
	for (const invite of revoked) {
		await recordAudit(tx, meta, {
			action: 'workspace.invite_revoked',
			actorUserId: actor.user.id,
			workspaceId,
			target: { type: 'invite', id: invite.id },
			details: { role: invite.role, issuedBy: issuerId, issuerRole: role, reason }
		});
	}
}

export async function listInvites(ctx: ServiceContext, principal: Principal, workspaceId: string) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'members.invite');
	const open = await invites.listOpen(ctx.db, workspaceId, ctx.now());
	return open.map((found) => {
		const { id, role, createdAt, expiresAt } = found.invite;
		const { issuer } = found;
		return {
			id,
			role,
			createdAt,
			expiresAt,
			issuedBy:
				issuer === null ? null : { userId: issuer.userId, name: issuer.name, email: issuer.email },
			// False when the issuer may no longer grant it (an invite from before demotions revoked
			// them, or an issuer whose account is disabled or gone): it cannot be used.
			usable: issuerStillGrants(found)
		};
	});
}

export async function revokeInvite(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	inviteId: string,
	meta: RequestMeta
) {
	await authorizeWorkspace(ctx.db, principal, workspaceId, 'members.invite');
	if (!isUuid(inviteId)) throw notFound('Invite not found.');
	await audited(
		ctx.db,
		meta,
		async (tx) => {
			if (!(await invites.revoke(tx, workspaceId, inviteId, ctx.now())))
				throw notFound('Invite not found.');
		},
		{
			action: 'workspace.invite_revoked',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'invite', id: inviteId }
		}
	);
}

/** What an invite link offers, for the page that shows it (nothing when unusable). */
export async function describeInvite(ctx: ServiceContext, token: string) {
	const found = await findUsableInvite(ctx.db, token, ctx.now());
	return found
		? {
				workspaceName: found.workspace.name,
				role: found.invite.role,
				expiresAt: found.invite.expiresAt
			}
		: null;
}

export async function acceptInvite(
	ctx: ServiceContext,
	principal: Principal,
	token: string,
	meta: RequestMeta
) {
	if (principal.kind !== 'session')
		throw new ServiceError('forbidden', 'Invites are accepted from a signed-in browser.');
	return ctx.db.transaction(async (tx) => {
		const found = await findUsableInvite(tx, token, ctx.now());
		if (!found) throw new ServiceError('invalid', 'This invite link is invalid, used or expired.');
		const existing = await workspaces.getMembership(tx, found.workspace.id, principal.user.id);
		if (existing)
			throw new ServiceError('conflict', `You are already a member of ${found.workspace.name}.`);
		if (!(await invites.markAccepted(tx, found.invite.id, principal.user.id, ctx.now()))) {
			throw new ServiceError('invalid', 'This invite link is invalid, used or expired.');
		}
		await workspaces.addMember(tx, {
			workspaceId: found.workspace.id,
			userId: principal.user.id,
			role: found.invite.role
		});
		await sessions.update(tx, principal.session.id, { activeWorkspaceId: found.workspace.id });
		await recordAudit(tx, meta, {
			action: 'workspace.invite_accepted',
			actorUserId: principal.user.id,
			workspaceId: found.workspace.id,
			target: { type: 'invite', id: found.invite.id },
			details: { role: found.invite.role }
		});
		return { workspaceId: found.workspace.id, role: found.invite.role };
	});
}

export async function changeMemberRole(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	userId: string,
	role: WorkspaceRole,
	meta: RequestMeta
): Promise<void> {
	await ctx.db.transaction(async (tx) => {
		await lockWorkspace(tx, principal, workspaceId);
		const { role: myRole } = await authorizeWorkspace(tx, principal, workspaceId, 'members.manage');
		const target = isUuid(userId) ? await workspaces.getMembership(tx, workspaceId, userId) : null;
		if (!target) throw notFound('Member not found.');
		if (!roleAtLeast(myRole, target.role) || !roleAtLeast(myRole, role)) {
			throw new ServiceError(
				'forbidden',
				'You cannot change the role of someone above you, or grant a role above your own.'
			);
		}
		if (
			target.role === 'owner' &&
			role !== 'owner' &&
			(await workspaces.countOwners(tx, workspaceId)) <= 1
		) {
			throw new ServiceError(
				'conflict',
				'A workspace needs at least one owner. Make someone else owner first.'
			);
		}
		await workspaces.setRole(tx, workspaceId, userId, role);
		await recordAudit(tx, meta, {
			action: 'workspace.role_changed',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'user', id: userId },
			details: { from: target.role, to: role }
		});
		await revokeInvitesNoLongerGranted(
			tx,
			meta,
			principal,
			workspaceId,
			userId,
			role,
			'issuer demoted',
			ctx.now()
		);
	});
	await announceAccessChange(ctx, userId);
}

export async function removeMember(
	ctx: ServiceContext,
	principal: Principal,
	workspaceId: string,
	userId: string,
	meta: RequestMeta
): Promise<void> {
	await ctx.db.transaction(async (tx) => {
		await lockWorkspace(tx, principal, workspaceId);
		const self = userId === principal.user.id;
		const { role: myRole } = await authorizeWorkspace(
			tx,
			principal,
			workspaceId,
			self ? 'members.leave' : 'members.manage'
		);
		const target = isUuid(userId) ? await workspaces.getMembership(tx, workspaceId, userId) : null;
		if (!target) throw notFound('Member not found.');
		if (!self && !roleAtLeast(myRole, target.role))
			throw new ServiceError('forbidden', 'You cannot remove someone above you.');
		if (target.role === 'owner' && (await workspaces.countOwners(tx, workspaceId)) <= 1) {
			throw new ServiceError(
				'conflict',
				'The last owner cannot leave or be removed. Make someone else owner first.'
			);
		}
		await workspaces.removeMember(tx, workspaceId, userId);
		await recordAudit(tx, meta, {
			action: self ? 'workspace.left' : 'workspace.member_removed',
			actorUserId: principal.user.id,
			workspaceId,
			target: { type: 'user', id: userId },
			details: { role: target.role }
		});
		await revokeInvitesNoLongerGranted(
			tx,
			meta,
			principal,
			workspaceId,
			userId,
			null,
			self ? 'issuer left' : 'issuer removed',
			ctx.now()
		);
	});
	await announceAccessChange(ctx, userId);
}
