import { and, asc, count, eq } from 'drizzle-orm';
import type { Db } from './index.ts';
import {
	memberships,
	users,
	workspaces,
	type Membership,
	type Workspace,
	type WorkspaceRole
} from './schema/index.ts';

export async function create(db: Db, values: { name: string; slug: string }): Promise<Workspace> {
	const [workspace] = await db.insert(workspaces).values(values).returning();
	if (!workspace) throw new Error('insert returned no row');
	return workspace;
}

export async function get(db: Db, id: string): Promise<Workspace | null> {
	const [workspace] = await db.select().from(workspaces).where(eq(workspaces.id, id));
	return workspace ?? null;
}

export async function rename(db: Db, id: string, name: string): Promise<Workspace | null> {
	const [workspace] = await db
		.update(workspaces)
		.set({ name })
		.where(eq(workspaces.id, id))
		.returning();
	return workspace ?? null;
}

export async function setLimits(
	db: Db,
	id: string,
	limits: Pick<Workspace, 'monthlyCostLimitUsd' | 'monthlyTokenLimit'>
): Promise<Workspace | null> {
	const [workspace] = await db
		.update(workspaces)
		.set(limits)
		.where(eq(workspaces.id, id))
		.returning();
	return workspace ?? null;
}

export type WorkspaceWithRole = Workspace & { role: WorkspaceRole };

export async function listForUser(db: Db, userId: string): Promise<WorkspaceWithRole[]> {
	const rows = await db
		.select({ workspace: workspaces, role: memberships.role })
		.from(memberships)
		.innerJoin(workspaces, eq(memberships.workspaceId, workspaces.id))
		.where(eq(memberships.userId, userId))
		.orderBy(asc(workspaces.name));
	return rows.map((row) => ({ ...row.workspace, role: row.role }));
}

export async function getMembership(
	db: Db,
	workspaceId: string,
	userId: string
): Promise<Membership | null> {
	const [membership] = await db
		.select()
		.from(memberships)
		.where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, userId)));
	return membership ?? null;
}

export async function addMember(
	db: Db,
	values: { workspaceId: string; userId: string; role: WorkspaceRole }
): Promise<void> {
	await db.insert(memberships).values(values).onConflictDoNothing();
}

export type Member = {
	userId: string;
	email: string;
	name: string;
	role: WorkspaceRole;
	joinedAt: Date;
};

export async function listMembers(db: Db, workspaceId: string): Promise<Member[]> {
	return db
		.select({
			userId: users.id,
			email: users.email,
			name: users.name,
			role: memberships.role,
			joinedAt: memberships.createdAt
		})
		.from(memberships)
		.innerJoin(users, eq(memberships.userId, users.id))
		.where(eq(memberships.workspaceId, workspaceId))
		.orderBy(asc(users.name));
}

export async function setRole(
	db: Db,
	workspaceId: string,
	userId: string,
	role: WorkspaceRole
): Promise<boolean> {
	const updated = await db
		.update(memberships)
		.set({ role })
		.where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, userId)))
		.returning({ userId: memberships.userId });
	return updated.length > 0;
}

export async function removeMember(db: Db, workspaceId: string, userId: string): Promise<boolean> {
	const deleted = await db
		.delete(memberships)
		.where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.userId, userId)))
		.returning({ userId: memberships.userId });
	return deleted.length > 0;
}

export async function countOwners(db: Db, workspaceId: string): Promise<number> {
	const [row] = await db
		.select({ value: count() })
		.from(memberships)
		.where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.role, 'owner')));
	return row?.value ?? 0;
}
