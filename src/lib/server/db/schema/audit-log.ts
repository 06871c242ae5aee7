import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';
import { workspaces } from './workspaces.ts';

// Append-only: the code has no update or delete path for this table.
export const auditLog = pgTable(
	'audit_log',
	{
		id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
		at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
		workspaceId: uuid('workspace_id').references(() => workspaces.id, { onDelete: 'set null' }),
		actorUserId: uuid('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
		action: text('action').notNull(),
		targetType: text('target_type'),
		targetId: text('target_id'),
		ip: text('ip'),
		userAgent: text('user_agent'),
		details: jsonb('details').$type<Record<string, unknown>>().notNull().default({})
	},
	(table) => [
		index('audit_log_at_idx').on(table.at),
		index('audit_log_workspace_at_idx').on(table.workspaceId, table.at),
		index('audit_log_actor_at_idx').on(table.actorUserId, table.at)
	]
);

export type AuditEntry = typeof auditLog.$inferSelect;
export type NewAuditEntry = typeof auditLog.$inferInsert;
