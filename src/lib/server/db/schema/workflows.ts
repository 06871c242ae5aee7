import { sql } from 'drizzle-orm';
import {
	boolean,
	index,
	integer,
	jsonb,
	pgTable,
	text,
	timestamp,
	uniqueIndex,
	uuid,
	type AnyPgColumn
} from 'drizzle-orm/pg-core';
import type { WorkflowDefinition } from '../../../schemas/workflow.ts';
import { users } from './users.ts';
import { workspaces } from './workspaces.ts';

export const workflows = pgTable(
	'workflows',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		description: text('description').notNull().default(''),
		/** The version runs start on unless they name another; null until the first publish. */
		publishedVersionId: uuid('published_version_id').references(
			(): AnyPgColumn => workflowVersions.id
		),
		latestVersion: integer('latest_version').notNull().default(0),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [index('workflows_workspace_idx').on(table.workspaceId, table.updatedAt)]
);

// Immutable: there is no update path; a run pins the row it started on.
export const workflowVersions = pgTable(
	'workflow_versions',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workflowId: uuid('workflow_id')
			.notNull()
			.references(() => workflows.id, { onDelete: 'cascade' }),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		number: integer('number').notNull(),
		definition: jsonb('definition').$type<WorkflowDefinition>().notNull(),
		note: text('note').notNull().default(''),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		uniqueIndex('workflow_versions_number_idx').on(table.workflowId, table.number),
		index('workflow_versions_workspace_idx').on(table.workspaceId)
	]
);

export type Workflow = typeof workflows.$inferSelect;
export type WorkflowVersion = typeof workflowVersions.$inferSelect;

export const triggers = pgTable(
	'triggers',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		workflowId: uuid('workflow_id')
			.notNull()
			.references(() => workflows.id, { onDelete: 'cascade' }),
		kind: text('kind', { enum: ['webhook', 'schedule'] }).notNull(),
		name: text('name').notNull(),
		enabled: boolean('enabled').notNull().default(true),
		/** Kind-specific settings, parsed by the trigger schemas in src/lib/schemas/triggers.ts. */
		config: jsonb('config').$type<Record<string, unknown>>().notNull(),
		/** Webhook bearer token: only its SHA-256 is kept. */
		tokenHash: text('token_hash'),
		/** Webhook HMAC key, encrypted with the server key (it is needed to verify signatures). */
		signingSecret: text('signing_secret'),
		nextFireAt: timestamp('next_fire_at', { withTimezone: true }),
		lastFiredAt: timestamp('last_fired_at', { withTimezone: true }),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		index('triggers_workflow_idx').on(table.workflowId),
		index('triggers_due_idx')
			.on(table.nextFireAt)
			.where(sql`${table.kind} = 'schedule' and ${table.enabled}`)
	]
);

export type Trigger = typeof triggers.$inferSelect;
