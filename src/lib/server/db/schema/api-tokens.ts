import { index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

export const apiTokens = pgTable(
	'api_tokens',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		// SHA-256 of the token: it is shown once at creation and never stored.
		tokenHash: text('token_hash').notNull(),
		// The last characters, so people can tell their tokens apart.
		hint: text('hint').notNull(),
		scopes: text('scopes').array().notNull(),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
		lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
		revokedAt: timestamp('revoked_at', { withTimezone: true })
	},
	(table) => [
		uniqueIndex('api_tokens_token_hash_idx').on(table.tokenHash),
		index('api_tokens_user_id_idx').on(table.userId)
	]
);

export type ApiToken = typeof apiTokens.$inferSelect;
