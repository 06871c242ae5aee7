import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { apiTokens, users, type ApiToken, type User } from './schema/index.ts';

export async function create(db: Db, values: typeof apiTokens.$inferInsert): Promise<ApiToken> {
	const [token] = await db.insert(apiTokens).values(values).returning();
	if (!token) throw new Error('insert returned no row');
	return token;
}

function prepareGetWithUser(db: Db) {
	return db
		.select({ token: apiTokens, user: users })
		.from(apiTokens)
		.innerJoin(users, eq(apiTokens.userId, users.id))
		.where(eq(apiTokens.tokenHash, sql.placeholder('tokenHash')))
		.prepare('api_token_with_user');
}

// Runs on every token-authenticated request: prepared once per database.
const getWithUserQueries = new WeakMap<Db, ReturnType<typeof prepareGetWithUser>>();

export async function getWithUser(
	db: Db,
	tokenHash: string
): Promise<{ token: ApiToken; user: User } | null> {
	let query = getWithUserQueries.get(db);
	if (!query) getWithUserQueries.set(db, (query = prepareGetWithUser(db)));
	const [row] = await query.execute({ tokenHash });
	return row ?? null;
}

export async function getByIdWithUser(
	db: Db,
	id: string
): Promise<{ token: ApiToken; user: User } | null> {
	const [row] = await db
		.select({ token: apiTokens, user: users })
		.from(apiTokens)
		.innerJoin(users, eq(apiTokens.userId, users.id))
		.where(eq(apiTokens.id, id));
	return row ?? null;
}

export async function listForUser(db: Db, userId: string): Promise<ApiToken[]> {
	return db
		.select()
		.from(apiTokens)
		.where(eq(apiTokens.userId, userId))
		.orderBy(desc(apiTokens.createdAt));
}

export async function revoke(db: Db, userId: string, id: string, now: Date): Promise<boolean> {
	const updated = await db
		.update(apiTokens)
		.set({ revokedAt: now })
		.where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
		.returning({ id: apiTokens.id });
	return updated.length > 0;
}

export async function touch(db: Db, id: string, now: Date): Promise<void> {
	await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id));
}
