import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { apiTokens } from './api-tokens.ts';
import { sessions } from './sessions.ts';
import { users } from './users.ts';

/**
 * Realtime tickets issued and not yet used: redeeming one deletes its row, so a ticket opens at
 * most one connection on any server. Revoking the session or token behind it removes it too.
 */
export const realtimeTickets = pgTable(
	'realtime_tickets',
	{
		// The JWT's `jti`.
		id: text('id').primaryKey(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		sessionId: text('session_id').references(() => sessions.id, { onDelete: 'cascade' }),
		apiTokenId: uuid('api_token_id').references(() => apiTokens.id, { onDelete: 'cascade' }),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull()
	},
	(table) => [index('realtime_tickets_expires_at_idx').on(table.expiresAt)]
);

export type RealtimeTicket = typeof realtimeTickets.$inferSelect;
