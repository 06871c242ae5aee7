import { sql } from 'drizzle-orm';
import { boolean, check, pgEnum, pgTable, smallint, timestamp } from 'drizzle-orm/pg-core';

export const signupMode = pgEnum('signup_mode', ['invite-only', 'open', 'approval']);

// One row (id = 1): settings that apply to the whole instance, changed by its admins.
export const instanceSettings = pgTable(
	'instance_settings',
	{
		id: smallint('id').primaryKey().default(1),
		signupMode: signupMode('signup_mode').notNull().default('invite-only'),
		requireTwoFactor: boolean('require_two_factor').notNull().default(false),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [check('instance_settings_single_row', sql`${table.id} = 1`)]
);

export type InstanceSettings = typeof instanceSettings.$inferSelect;
export type SignupMode = (typeof signupMode.enumValues)[number];
