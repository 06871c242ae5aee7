import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
	auditLog,
	memberships,
	sessions,
	users,
	workspaces
} from '../../src/lib/server/db/schema/index.ts';
import { useTestDatabase } from '../helpers/database.ts';

const testDb = useTestDatabase();

async function createUser(email: string) {
	const [user] = await testDb.database.db
		.insert(users)
		.values({ email, name: 'Ada', passwordHash: 'not-a-real-hash' })
		.returning();
	if (!user) throw new Error('insert returned nothing');
	return user;
}

describe('data layer (runs on PGlite and PostgreSQL alike)', () => {
	it('stores users with generated ids and defaults', async () => {
		const user = await createUser('ada@example.com');
		expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
		expect(user.status).toBe('active');
		expect(user.isInstanceAdmin).toBe(false);
		expect(user.createdAt).toBeInstanceOf(Date);
	});

	it('keeps e-mail addresses unique regardless of case', async () => {
		await createUser('grace@example.com');
		await expect(createUser('Grace@Example.COM')).rejects.toThrow();
	});

	it('ties memberships and sessions to their user and workspace', async () => {
		const user = await createUser('linus@example.com');
		const [workspace] = await testDb.database.db
			.insert(workspaces)
			.values({ name: 'Kernel', slug: `kernel-${user.id.slice(0, 8)}` })
			.returning();
		if (!workspace) throw new Error('insert returned nothing');
		await testDb.database.db
			.insert(memberships)
			.values({ workspaceId: workspace.id, userId: user.id, role: 'owner' });
		await testDb.database.db
			.insert(sessions)
			.values({ id: 'a'.repeat(64), userId: user.id, expiresAt: new Date(Date.now() + 60_000) });
		await expect(
			testDb.database.db
				.insert(memberships)
				.values({ workspaceId: workspace.id, userId: user.id, role: 'viewer' })
		).rejects.toThrow();

		await testDb.database.db.delete(users).where(eq(users.id, user.id));
		expect(
			await testDb.database.db.select().from(memberships).where(eq(memberships.userId, user.id))
		).toEqual([]);
		expect(
			await testDb.database.db.select().from(sessions).where(eq(sessions.userId, user.id))
		).toEqual([]);
	});

	it('numbers audit entries in order and keeps them when the actor is deleted', async () => {
		const user = await createUser('audit@example.com');
		const inserted = await testDb.database.db
			.insert(auditLog)
			.values([
				{ action: 'auth.sign_in', actorUserId: user.id, details: { method: 'password' } },
				{ action: 'auth.sign_out', actorUserId: user.id }
			])
			.returning();
		expect((inserted[1]?.id ?? 0) > (inserted[0]?.id ?? 0)).toBe(true);
		await testDb.database.db.delete(users).where(eq(users.id, user.id));
		const kept = await testDb.database.db
			.select()
			.from(auditLog)
			.where(eq(auditLog.action, 'auth.sign_in'));
		expect(kept).toHaveLength(1);
		expect(kept[0]).toMatchObject({ actorUserId: null, details: { method: 'password' } });
	});

	it('rolls a failed transaction back completely', async () => {
		await expect(
			testDb.database.db.transaction(async (tx) => {
				await tx
					.insert(users)
					.values({ email: 'half@example.com', name: 'Half', passwordHash: 'x' });
				await tx
					.insert(users)
					.values({ email: 'HALF@example.com', name: 'Dup', passwordHash: 'x' });
			})
		).rejects.toThrow();
		expect(await testDb.database.db.select().from(users).where(eq(users.name, 'Half'))).toEqual([]);
	});
});
