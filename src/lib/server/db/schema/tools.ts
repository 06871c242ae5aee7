import { sql } from 'drizzle-orm';
import { boolean, json, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { toolRisks } from '../../../schemas/tools.ts';
import { users } from './users.ts';
import { workspaces } from './workspaces.ts';

/** A workspace's own tools: sandboxed JavaScript with an input schema, for its agents. */
export const customTools = pgTable(
	'custom_tools',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		description: text('description').notNull(),
		/**
		 * A JSON Schema object, checked with `inputValidator` when saved. `json`, not `jsonb`: kept as
		 * written, so properties stay in their author's order (forms and models show them so).
		 */
		inputSchema: json('input_schema').$type<Record<string, unknown>>().notNull(),
		/** The body of an async function of `input`, run in the sandbox. */
		source: text('source').notNull(),
		risk: text('risk', { enum: toolRisks }).notNull(),
		requiresApproval: boolean('requires_approval').notNull(),
		allowFetch: boolean('allow_fetch').notNull().default(false),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		uniqueIndex('custom_tools_workspace_name_idx').on(table.workspaceId, sql`lower(${table.name})`)
	]
);

export type CustomTool = typeof customTools.$inferSelect;
