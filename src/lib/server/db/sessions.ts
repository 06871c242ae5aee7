import { and, desc, eq, ne, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { sessions, users, type Session, type User } from './schema/index.ts';

export async function create(db: Db, values: typeof sessions.$inferInsert): Promise<Session> {
	const [session] = await db.insert(sessions).values(values).returning();
	if (!session) throw new Error('insert returned no row');
	return session;
}

function prepareGetWithUser(db: Db) {
	return db
		.select({ session: sessions, user: users })
		.from(sessions)
		.innerJoin(users, eq(sessions.userId, users.id))
		.where(eq(sessions.id, sql.placeholder('id')))
		.prepare('session_with_user');
}

// Runs on every signed-in request: prepared once per database, which halves its cost.
const getWithUserQueries = new WeakMap<Db, ReturnType<typeof prepareGetWithUser>>();

export async function getWithUser(
	db: Db,
	id: string
): Promise<{ session: Session; user: User } | null> {
	let query = getWithUserQueries.get(db);
	if (!query) getWithUserQueries.set(db, (query = prepareGetWithUser(db)));
	const [row] = await query.execute({ id });
	return row ?? null;
}

export async function listForUser(db: Db, userId: string): Promise<Session[]> {
	return db
		.select()
		.from(sessions)
		.where(eq(sessions.userId, userId))
		.orderBy(desc(sessions.lastSeenAt));
}

export async function update(
	db: Db,
	id: string,
	values: Partial<
		Pick<Session, 'lastSeenAt' | 'expiresAt' | 'twoFactorVerified' | 'activeWorkspaceId'>
	>
): Promise<void> {
	await db.update(sessions).set(values).where(eq(sessions.id, id));
}

export async function remove(db: Db, id: string): Promise<void> {
	await db.delete(sessions).where(eq(sessions.id, id));
}

/** Deletes one of the user's sessions; false when it is not theirs (or gone). */
export async function removeForUser(db: Db, userId: string, id: string): Promise<boolean> {
	const deleted = await db
		.delete(sessions)
		.where(and(eq(sessions.id, id), eq(sessions.userId, userId)))
		.returning({ id: sessions.id });
	return deleted.length > 0;
}

export async function removeAllForUser(db: Db, userId: string, exceptId?: string): Promise<void> {
	await db
		.delete(sessions)
		.where(
			exceptId
				? and(eq(sessions.userId, userId), ne(sessions.id, exceptId))
				: eq(sessions.userId, userId)
		);
}
