import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import type { Db } from './index.ts';
import { auditLog, users, type AuditEntry, type NewAuditEntry } from './schema/index.ts';

// Append-only by design: this module has no update and no delete.
export async function append(db: Db, entry: NewAuditEntry): Promise<void> {
	await db.insert(auditLog).values(entry);
}

export interface AuditFilter {
	actorUserId?: string;
	action?: string;
	from?: Date;
	to?: Date;
	/** Entries with a smaller id than this (keyset pagination, newest first). */
	beforeId?: number;
	limit: number;
}

export type AuditRow = AuditEntry & { actorEmail: string | null };

export async function list(db: Db, filter: AuditFilter): Promise<AuditRow[]> {
	const conditions: SQL[] = [];
	if (filter.actorUserId) conditions.push(eq(auditLog.actorUserId, filter.actorUserId));
	if (filter.action) conditions.push(eq(auditLog.action, filter.action));
	if (filter.from) conditions.push(gte(auditLog.at, filter.from));
	if (filter.to) conditions.push(lte(auditLog.at, filter.to));
	if (filter.beforeId) conditions.push(lt(auditLog.id, filter.beforeId));
	const rows = await db
		.select({ entry: auditLog, actorEmail: users.email })
		.from(auditLog)
		.leftJoin(users, eq(auditLog.actorUserId, users.id))
		.where(and(...conditions))
		.orderBy(desc(auditLog.id))
		.limit(filter.limit);
	return rows.map((row) => ({ ...row.entry, actorEmail: row.actorEmail }));
}
