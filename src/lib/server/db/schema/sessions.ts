import { boolean, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';
import { workspaces } from './workspaces.ts';

export const sessions = pgTable(
	'sessions',
	{
		// SHA-256 of the session token (hex): the token itself is never stored.
		id: text('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
		// False between the password step and the TOTP step of a two-factor sign-in.
		twoFactorVerified: boolean('two_factor_verified').notNull().default(false),
		activeWorkspaceId: uuid('active_workspace_id').references(() => workspaces.id, {
			onDelete: 'set null'
		}),
		ip: text('ip'),
		userAgent: text('user_agent')
	},
	(table) => [index('sessions_user_id_idx').on(table.userId)]
);

export type Session = typeof sessions.$inferSelect;
