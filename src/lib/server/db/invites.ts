import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from './index.ts';
import { invites, workspaces, type Invite, type Workspace } from './schema/index.ts';

export async function create(db: Db, values: typeof invites.$inferInsert): Promise<Invite> {
	const [invite] = await db.insert(invites).values(values).returning();
	if (!invite) throw new Error('insert returned no row');
	return invite;
}

/** An invite that can still be accepted at `now`, with its workspace. */
export async function getUsable(
	db: Db,
	tokenHash: string,
	now: Date
): Promise<{ invite: Invite; workspace: Workspace } | null> {
	const [row] = await db
		.select({ invite: invites, workspace: workspaces })
		.from(invites)
		.innerJoin(workspaces, eq(invites.workspaceId, workspaces.id))
		.where(
			and(
				eq(invites.tokenHash, tokenHash),
				isNull(invites.acceptedAt),
				isNull(invites.revokedAt),
				gt(invites.expiresAt, now)
			)
		);
	return row ?? null;
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
		.where(
			and(
				eq(invites.id, id),
				isNull(invites.acceptedAt),
				isNull(invites.revokedAt),
				gt(invites.expiresAt, now)
			)
		)
		.returning({ id: invites.id });
	return updated.length > 0;
}

export async function listOpen(db: Db, workspaceId: string, now: Date): Promise<Invite[]> {
	return db
		.select()
		.from(invites)
		.where(
			and(
				eq(invites.workspaceId, workspaceId),
				isNull(invites.acceptedAt),
				isNull(invites.revokedAt),
				gt(invites.expiresAt, now)
			)
		)
		.orderBy(desc(invites.createdAt));
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
