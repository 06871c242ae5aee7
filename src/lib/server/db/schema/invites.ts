import { index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';
import { workspaceRole, workspaces } from './workspaces.ts';

export const invites = pgTable(
	'invites',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		// SHA-256 of the link's token: the link itself is shown once and never stored.
		tokenHash: text('token_hash').notNull(),
		role: workspaceRole('role').notNull(),
		createdByUserId: uuid('created_by_user_id').references(() => users.id, {
			onDelete: 'set null'
		}),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
		acceptedAt: timestamp('accepted_at', { withTimezone: true }),
		acceptedByUserId: uuid('accepted_by_user_id').references(() => users.id, {
			onDelete: 'set null'
		}),
		revokedAt: timestamp('revoked_at', { withTimezone: true })
	},
	(table) => [
		uniqueIndex('invites_token_hash_idx').on(table.tokenHash),
		index('invites_workspace_id_idx').on(table.workspaceId)
	]
);

export type Invite = typeof invites.$inferSelect;
