import { sql } from 'drizzle-orm';
import {
	boolean,
	index,
	integer,
	jsonb,
	pgEnum,
	pgTable,
	primaryKey,
	text,
	timestamp,
	uniqueIndex,
	uuid,
	type AnyPgColumn
} from 'drizzle-orm/pg-core';
import { activeRunStatuses, runStatuses } from '../../../schemas/run-status.ts';
import { stepStatuses } from '../../../schemas/workflow.ts';
import { jsonValue } from './json-value.ts';
import { users } from './users.ts';
import { workflows, workflowVersions } from './workflows.ts';
import { workspaces } from './workspaces.ts';

export const runStatus = pgEnum('run_status', runStatuses);
export const stepStatus = pgEnum('step_status', stepStatuses);

/** `activeRunStatuses` as an SQL list, for `status in (…)` in hand-written statements. */
export const activeRunStatusList = sql.raw(
	activeRunStatuses.map((status) => `'${status}'`).join(', ')
);

/** What a failed step or run records; `code` is stable, `message` is for people. */
export interface RunError {
	code: string;
	message: string;
	nodeId?: string;
	retryable?: boolean;
}

export const runs = pgTable(
	'runs',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		workflowId: uuid('workflow_id')
			.notNull()
			.references(() => workflows.id, { onDelete: 'cascade' }),
		versionId: uuid('version_id')
			.notNull()
			.references(() => workflowVersions.id),
		status: runStatus('status').notNull().default('queued'),
		input: jsonValue('input').notNull(),
		output: jsonValue('output'),
		error: jsonb('error').$type<RunError>(),
		trigger: text('trigger', {
			enum: ['manual', 'api', 'webhook', 'schedule', 'workflow', 'rerun']
		}).notNull(),
		triggerId: uuid('trigger_id'),
		parentRunId: uuid('parent_run_id').references((): AnyPgColumn => runs.id, {
			onDelete: 'set null'
		}),
		/** The subworkflow step waiting for this run: at most one child per step, however often it retries. */
		parentStepId: uuid('parent_step_id'),
		rerunOf: uuid('rerun_of').references((): AnyPgColumn => runs.id, { onDelete: 'set null' }),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		/** Last event sequence number handed out; bumped under the run's row lock. */
		eventSeq: integer('event_seq').notNull().default(0),
		deadlineAt: timestamp('deadline_at', { withTimezone: true }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		startedAt: timestamp('started_at', { withTimezone: true }),
		finishedAt: timestamp('finished_at', { withTimezone: true })
	},
	(table) => [
		index('runs_workspace_created_idx').on(table.workspaceId, table.createdAt),
		index('runs_workflow_created_idx').on(table.workflowId, table.createdAt),
		uniqueIndex('runs_parent_step_idx').on(table.parentStepId),
		index('runs_deadline_idx')
			.on(table.deadlineAt)
			.where(sql`${table.status} in (${activeRunStatusList})`)
	]
);

export type Run = typeof runs.$inferSelect;

export const runSteps = pgTable(
	'run_steps',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		runId: uuid('run_id')
			.notNull()
			.references(() => runs.id, { onDelete: 'cascade' }),
		workspaceId: uuid('workspace_id').notNull(),
		nodeId: text('node_id').notNull(),
		/** -1 for a node's own step; 0… for the iterations of a map node. */
		iteration: integer('iteration').notNull().default(-1),
		/**
		 * '' for a node's step and a map's iterations; a child's place under its parent otherwise: an
		 * agent's turn `t3`, a tool call of that turn `t3.c1` (see engine/children.ts).
		 */
		path: text('path').notNull().default(''),
		kind: text('kind').notNull(),
		status: stepStatus('status').notNull().default('pending'),
		input: jsonValue('input'),
		output: jsonValue('output'),
		error: jsonb('error').$type<RunError>(),
		/** The outcome label a branching node chose. */
		branch: text('branch'),
		/** What a waiting node (delay, approval, subworkflow, map) keeps between its executions. */
		state: jsonb('state').$type<Record<string, unknown>>(),
		attempt: integer('attempt').notNull().default(0),
		/**
		 * When the queue should look at the step next: ready → when it may start, waiting → when it
		 * wakes (null = on a signal), running → when its lease ends. One column, one index.
		 */
		dueAt: timestamp('due_at', { withTimezone: true }),
		leaseEpoch: integer('lease_epoch').notNull().default(0),
		leasedBy: text('leased_by'),
		/** Copied from the run this one re-runs, not executed again. */
		reused: boolean('reused').notNull().default(false),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		startedAt: timestamp('started_at', { withTimezone: true }),
		finishedAt: timestamp('finished_at', { withTimezone: true })
	},
	(table) => [
		uniqueIndex('run_steps_node_idx').on(table.runId, table.nodeId, table.iteration, table.path),
		index('run_steps_due_idx')
			.on(table.dueAt)
			.where(sql`${table.status} in ('ready', 'waiting', 'running')`)
	]
);

export type RunStep = typeof runSteps.$inferSelect;

// Append-only, numbered per run so a client can resume after the last number it saw.
export const runEvents = pgTable(
	'run_events',
	{
		runId: uuid('run_id')
			.notNull()
			.references(() => runs.id, { onDelete: 'cascade' }),
		seq: integer('seq').notNull(),
		workspaceId: uuid('workspace_id').notNull(),
		type: text('type').notNull(),
		stepId: uuid('step_id'),
		nodeId: text('node_id'),
		data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
		at: timestamp('at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [primaryKey({ columns: [table.runId, table.seq] })]
);

export type RunEvent = typeof runEvents.$inferSelect;

/** Idempotency-Key → run, for 24 hours. */
export const runRequests = pgTable(
	'run_requests',
	{
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		key: text('key').notNull(),
		runId: uuid('run_id')
			.notNull()
			.references(() => runs.id, { onDelete: 'cascade' }),
		/** SHA-256 of the request, so the same key with a different body is refused. */
		requestHash: text('request_hash').notNull(),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [primaryKey({ columns: [table.workspaceId, table.key] })]
);

export const approvalStatus = pgEnum('approval_status', [
	'pending',
	'approved',
	'rejected',
	'expired',
	'cancelled'
]);

export const approvals = pgTable(
	'approvals',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		runId: uuid('run_id')
			.notNull()
			.references(() => runs.id, { onDelete: 'cascade' }),
		stepId: uuid('step_id')
			.notNull()
			.references(() => runSteps.id, { onDelete: 'cascade' }),
		nodeId: text('node_id').notNull(),
		title: text('title').notNull(),
		details: text('details').notNull().default(''),
		status: approvalStatus('status').notNull().default('pending'),
		deadlineAt: timestamp('deadline_at', { withTimezone: true }),
		decidedBy: uuid('decided_by').references(() => users.id, { onDelete: 'set null' }),
		decidedAt: timestamp('decided_at', { withTimezone: true }),
		comment: text('comment').notNull().default(''),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow()
	},
	(table) => [
		uniqueIndex('approvals_step_idx').on(table.stepId),
		index('approvals_workspace_status_idx').on(table.workspaceId, table.status, table.createdAt)
	]
);

export type Approval = typeof approvals.$inferSelect;
