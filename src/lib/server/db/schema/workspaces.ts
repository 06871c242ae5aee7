import {
	bigint,
	doublePrecision,
	index,
	pgEnum,
	pgTable,
	primaryKey,
	text,
	timestamp,
	uniqueIndex,
	uuid
} from 'drizzle-orm/pg-core';
import { users } from './users.ts';

export const workspaceRole = pgEnum('workspace_role', ['owner', 'admin', 'editor', 'viewer']);

export const workspaces = pgTable(
	'workspaces',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		name: text('name').notNull(),
		slug: text('slug').notNull(),
		/** Spending limits per calendar month (UTC) for model calls; null: none. */
		monthlyCostLimitUsd: doublePrecision('monthly_cost_limit_usd'),
		monthlyTokenLimit: bigint('monthly_token_limit', { mode: 'number' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [uniqueIndex('workspaces_slug_idx').on(table.slug)]
);

export const memberships = pgTable(
	'memberships',
	{
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		userId: uuid('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		role: workspaceRole('role').notNull(),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		primaryKey({ columns: [table.workspaceId, table.userId] }),
		index('memberships_user_id_idx').on(table.userId)
	]
);

export type Workspace = typeof workspaces.$inferSelect;
export type Membership = typeof memberships.$inferSelect;
export type WorkspaceRole = (typeof workspaceRole.enumValues)[number];
