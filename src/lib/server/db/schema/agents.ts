import { sql } from 'drizzle-orm';
import {
	bigint,
	boolean,
	date,
	doublePrecision,
	index,
	integer,
	json,
	jsonb,
	pgTable,
	primaryKey,
	text,
	timestamp,
	uniqueIndex,
	uuid
} from 'drizzle-orm/pg-core';
import {
	providerKinds,
	type AgentLimits,
	type AgentTool,
	type ScriptedReply
} from '../../../schemas/agents.ts';
import { credentials } from './credentials.ts';
import { runs, runSteps } from './runs.ts';
import { users } from './users.ts';
import { workflows } from './workflows.ts';
import { workspaces } from './workspaces.ts';

/** A workspace's connection to a model vendor (or a local server speaking its protocol). */
export const modelProviders = pgTable(
	'model_providers',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		kind: text('kind', { enum: providerKinds }).notNull(),
		/** Null: the vendor's own endpoint. */
		baseUrl: text('base_url'),
		/** The API key (an `openai` or `anthropic` credential); null for scripted providers. */
		credentialId: uuid('credential_id').references(() => credentials.id, {
			onDelete: 'restrict'
		}),
		defaultModel: text('default_model').notNull(),
		/** Requests in flight at once, per worker process. */
		concurrency: integer('concurrency').notNull(),
		timeoutMs: integer('timeout_ms').notNull(),
		/** A scripted provider's replies. */
		script: jsonb('script').$type<ScriptedReply[]>(),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		uniqueIndex('model_providers_workspace_name_idx').on(
			table.workspaceId,
			sql`lower(${table.name})`
		)
	]
);

export type ModelProvider = typeof modelProviders.$inferSelect;

/** An agent defined once and used by workflows (by id) and chat. */
export const agents = pgTable(
	'agents',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		description: text('description').notNull().default(''),
		instructions: text('instructions').notNull().default(''),
		providerId: uuid('provider_id')
			.notNull()
			.references(() => modelProviders.id, { onDelete: 'restrict' }),
		/** Null: the provider's default model. */
		model: text('model'),
		temperature: doublePrecision('temperature'),
		tools: jsonb('tools').$type<AgentTool[]>().notNull().default([]),
		limits: jsonb('limits').$type<AgentLimits>().notNull(),
		/** `json`: kept as written, so properties stay in their author's order. */
		outputSchema: json('output_schema').$type<Record<string, unknown>>(),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		uniqueIndex('agents_workspace_name_idx').on(table.workspaceId, sql`lower(${table.name})`)
	]
);

export type Agent = typeof agents.$inferSelect;

/** USD per million tokens, per provider kind and model; instance-wide, edited by admins. */
export const modelPrices = pgTable(
	'model_prices',
	{
		providerKind: text('provider_kind', { enum: providerKinds }).notNull(),
		model: text('model').notNull(),
		inputPerMillion: doublePrecision('input_per_million').notNull(),
		outputPerMillion: doublePrecision('output_per_million').notNull(),
		/** Null: cached input tokens cost the input price. */
		cachedInputPerMillion: doublePrecision('cached_input_per_million'),
		updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [uniqueIndex('model_prices_model_idx').on(table.providerKind, table.model)]
);

export type ModelPrice = typeof modelPrices.$inferSelect;

/**
 * The cost ledger: one row per model request, written in the same commit as the step that made it,
 * so what was spent is known exactly once, even when a worker dies.
 */
export const modelUsage = pgTable(
	'model_usage',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		runId: uuid('run_id')
			.notNull()
			.references(() => runs.id, { onDelete: 'cascade' }),
		stepId: uuid('step_id').references(() => runSteps.id, { onDelete: 'cascade' }),
		workflowId: uuid('workflow_id').references(() => workflows.id, { onDelete: 'set null' }),
		providerId: uuid('provider_id').references(() => modelProviders.id, {
			onDelete: 'set null'
		}),
		providerKind: text('provider_kind', { enum: providerKinds }).notNull(),
		model: text('model').notNull(),
		inputTokens: integer('input_tokens').notNull(),
		outputTokens: integer('output_tokens').notNull(),
		cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
		durationMs: integer('duration_ms').notNull(),
		costUsd: doublePrecision('cost_usd').notNull(),
		/** False when the model had no price: its cost is counted as 0. */
		priced: boolean('priced').notNull(),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		index('model_usage_workspace_time_idx').on(table.workspaceId, table.createdAt),
		index('model_usage_run_idx').on(table.runId),
		index('model_usage_step_idx').on(table.stepId)
	]
);

export type ModelUsage = typeof modelUsage.$inferSelect;

/**
 * A workspace's model spending per calendar month (UTC), added to in the statement that writes the
 * ledger rows: what the monthly limits are checked against, in one row read rather than a sum over
 * the month's requests. Deleting runs or workflows (whose ledger rows go with them) spends nothing
 * back.
 */
export const modelUsageMonths = pgTable(
	'model_usage_months',
	{
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		/** The first day of the month. */
		month: date('month').notNull(),
		/** Input plus output tokens. */
		tokens: bigint('tokens', { mode: 'number' }).notNull(),
		costUsd: doublePrecision('cost_usd').notNull(),
		requests: integer('requests').notNull()
	},
	(table) => [primaryKey({ columns: [table.workspaceId, table.month] })]
);
