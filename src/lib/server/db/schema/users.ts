import { sql } from 'drizzle-orm';
import {
	bigint,
	boolean,
	pgEnum,
	pgTable,
	text,
	timestamp,
	uniqueIndex,
	uuid
} from 'drizzle-orm/pg-core';

export const userStatus = pgEnum('user_status', ['active', 'pending', 'disabled']);

export const users = pgTable(
	'users',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		email: text('email').notNull(),
		name: text('name').notNull(),
		passwordHash: text('password_hash').notNull(),
		status: userStatus('status').notNull().default('active'),
		isInstanceAdmin: boolean('is_instance_admin').notNull().default(false),
		// AES-256-GCM ciphertext of the TOTP key; null until two-factor sign-in is enabled.
		totpSecret: text('totp_secret'),
		totpEnabledAt: timestamp('totp_enabled_at', { withTimezone: true }),
		// The last 30-second step whose code was accepted: a code works once (RFC 6238 §5.2).
		totpLastUsedStep: bigint('totp_last_used_step', { mode: 'number' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [uniqueIndex('users_email_lower_idx').on(sql`lower(${table.email})`)]
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
