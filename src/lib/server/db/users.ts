import { and, asc, count, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { users, type NewUser, type User } from './schema/index.ts';

export async function create(db: Db, values: NewUser): Promise<User> {
	const [user] = await db.insert(users).values(values).returning();
	if (!user) throw new Error('insert returned no row');
	return user;
}

export async function get(db: Db, id: string): Promise<User | null> {
	const [user] = await db.select().from(users).where(eq(users.id, id));
	return user ?? null;
}

export async function getByEmail(db: Db, email: string): Promise<User | null> {
	const [user] = await db
		.select()
		.from(users)
		.where(eq(sql`lower(${users.email})`, email.toLowerCase()));
	return user ?? null;
}

export async function countAll(db: Db): Promise<number> {
	const [row] = await db.select({ value: count() }).from(users);
	return row?.value ?? 0;
}

export async function listByStatus(db: Db, status: User['status']): Promise<User[]> {
	return db.select().from(users).where(eq(users.status, status)).orderBy(asc(users.createdAt));
}

export async function update(
	db: Db,
	id: string,
	values: Partial<
		Pick<
			User,
			| 'name'
			| 'email'
			| 'passwordHash'
			| 'status'
			| 'totpSecret'
			| 'totpEnabledAt'
			| 'totpLastUsedStep'
		>
	>
): Promise<User | null> {
	const [user] = await db
		.update(users)
		.set({ ...values, updatedAt: new Date() })
		.where(eq(users.id, id))
		.returning();
	return user ?? null;
}

export async function updateIfStatus(
	db: Db,
	id: string,
	expected: User['status'],
	next: User['status']
): Promise<User | null> {
	const [user] = await db
		.update(users)
		.set({ status: next, updatedAt: new Date() })
		.where(and(eq(users.id, id), eq(users.status, expected)))
		.returning();
	return user ?? null;
}

/** Records a TOTP step as used; false when it (or a later one) was used already — a replayed code. */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
	const claimed = await db
		.update(users)
		.set({ totpLastUsedStep: step })
		.where(
			and(eq(users.id, id), or(isNull(users.totpLastUsedStep), lt(users.totpLastUsedStep, step)))
		)
		.returning({ id: users.id });
	return claimed.length > 0;
}
