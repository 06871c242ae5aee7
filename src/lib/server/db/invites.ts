import { and, desc, eq, gt, inArray, isNull, type SQL } from 'drizzle-orm';
import type { Db } from './index.ts';
import {
	invites,
	memberships,
	users,
	workspaces,
	type Invite,
	type User,
	type Workspace,
	type WorkspaceRole
} from './schema/index.ts';

export async function create(db: Db, values: typeof invites.$inferInsert): Promise<Invite> {
	const [invite] = await db.insert(invites).values(values).returning();
	if (!invite) throw new Error('insert returned no row');
	return invite;
}

/**
 * Who issued an invite, as they stand now: null when their account is gone; `role` null when they are
 * no longer a member of the invite's workspace.
 */
export type InviteIssuer = {
	userId: string;
	name: string;
	email: string;
	status: User['status'];
	role: WorkspaceRole | null;
};

export type InviteWithIssuer = { invite: Invite; issuer: InviteIssuer | null };

const openAt = (now: Date): SQL[] => [
	isNull(invites.acceptedAt),
	isNull(invites.revokedAt),
	gt(invites.expiresAt, now)
];

/** Invites with their issuer's account and current membership (both left joins). */
function selectWithIssuer(db: Db) {
	return db
		.select({
			invite: invites,
			workspace: workspaces,
			issuer: { userId: users.id, name: users.name, email: users.email, status: users.status },
			issuerRole: memberships.role
		})
		.from(invites)
		.innerJoin(workspaces, eq(invites.workspaceId, workspaces.id))
		.leftJoin(users, eq(invites.createdByUserId, users.id))
		.leftJoin(
			memberships,
			and(
				eq(memberships.workspaceId, invites.workspaceId),
				eq(memberships.userId, invites.createdByUserId)
			)
		);
}

function withIssuer(row: {
	invite: Invite;
	issuer: Omit<InviteIssuer, 'role'> | null;
	issuerRole: WorkspaceRole | null;
}): InviteWithIssuer {
	return {
		invite: row.invite,
		issuer: row.issuer === null ? null : { ...row.issuer, role: row.issuerRole }
	};
}

/**
 * An invite that is open at `now` (not used, revoked or expired), with its workspace and issuer.
 * Whether the issuer may still grant it is the caller's question.
 */
export async function getOpen(
	db: Db,
	tokenHash: string,
	now: Date
): Promise<(InviteWithIssuer & { workspace: Workspace }) | null> {
	const [row] = await selectWithIssuer(db).where(
		and(eq(invites.tokenHash, tokenHash), ...openAt(now))
	);
	return row ? { ...withIssuer(row), workspace: row.workspace } : null;
}

/** Marks the invite used; false when someone else used it first (single use under concurrency). */
export async function markAccepted(
	db: Db,
	id: string,
	userId: string,
	now: Date
): Promise<boolean> {
	const updated = await db
		.update(invites)
		.set({ acceptedAt: now, acceptedByUserId: userId })
		.where(and(eq(invites.id, id), ...openAt(now)))
		.returning({ id: invites.id });
	return updated.length > 0;
}

export async function listOpen(
	db: Db,
	workspaceId: string,
	now: Date
): Promise<InviteWithIssuer[]> {
	const rows = await selectWithIssuer(db)
		.where(and(eq(invites.workspaceId, workspaceId), ...openAt(now)))
		.orderBy(desc(invites.createdAt));
	return rows.map(withIssuer);
}

export async function revoke(db: Db, workspaceId: string, id: string, now: Date): Promise<boolean> {
	const updated = await db
		.update(invites)
		.set({ revokedAt: now })
		.where(
			and(
				eq(invites.id, id),
				eq(invites.workspaceId, workspaceId),
				isNull(invites.acceptedAt),
				isNull(invites.revokedAt)
			)
		)
		.returning({ id: invites.id });
	return updated.length > 0;
}

/** Revokes the open invites one member issued in a workspace to any of `roles`; returns them. */
export async function revokeOpenIssuedBy(
	db: Db,
	workspaceId: string,
	issuerId: string,
	roles: WorkspaceRole[],
	now: Date
): Promise<Pick<Invite, 'id' | 'role'>[]> {
	if (roles.length === 0) return [];
	return db
		.update(invites)
		.set({ revokedAt: now })
		.where(
			and(
				eq(invites.workspaceId, workspaceId),
				eq(invites.createdByUserId, issuerId),
				inArray(invites.role, roles),
				...openAt(now)
			)
		)
		.returning({ id: invites.id, role: invites.role });
}
