import { and, eq, gt, lte } from 'drizzle-orm';
import type { Db } from './index.ts';
import { realtimeTickets, type RealtimeTicket } from './schema/index.ts';

export async function insert(db: Db, values: typeof realtimeTickets.$inferInsert): Promise<void> {
	await db.insert(realtimeTickets).values(values);
}

/** Uses a ticket up: the row is deleted, so of two concurrent redemptions only one gets it. */
export async function redeem(db: Db, id: string, now: Date): Promise<RealtimeTicket | null> {
	const [row] = await db
		.delete(realtimeTickets)
		.where(and(eq(realtimeTickets.id, id), gt(realtimeTickets.expiresAt, now)))
		.returning();
	return row ?? null;
}

export async function purgeExpired(db: Db, now: Date): Promise<number> {
	const deleted = await db
		.delete(realtimeTickets)
		.where(lte(realtimeTickets.expiresAt, now))
		.returning({ id: realtimeTickets.id });
	return deleted.length;
}
