import { sql } from 'drizzle-orm';
import {
	check,
	integer,
	jsonb,
	pgTable,
	smallint,
	text,
	timestamp,
	uniqueIndex,
	uuid
} from 'drizzle-orm/pg-core';
import { credentialKinds } from '../../../schemas/credentials.ts';
import { users } from './users.ts';
import { workspaces } from './workspaces.ts';

export const credentials = pgTable(
	'credentials',
	{
		id: uuid('id').primaryKey().defaultRandom(),
		workspaceId: uuid('workspace_id')
			.notNull()
			.references(() => workspaces.id, { onDelete: 'cascade' }),
		name: text('name').notNull(),
		kind: text('kind', { enum: credentialKinds }).notNull(),
		/** The settings that are not secret, parsed by credentialSettingsSchema. */
		settings: jsonb('settings').$type<Record<string, unknown>>().notNull(),
		/** The secret, AES-256-GCM under the credential key of `key_version`, bound to this row. */
		sealedSecret: text('sealed_secret').notNull(),
		keyVersion: integer('key_version').notNull(),
		/** `••••` and, for long secrets, their last 4 characters: enough to tell them apart. */
		hint: text('hint').notNull(),
		createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
		createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
		updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
		lastUsedAt: timestamp('last_used_at', { withTimezone: true })
	},
	(table) => [
		uniqueIndex('credentials_workspace_name_idx').on(table.workspaceId, sql`lower(${table.name})`)
	]
);

export type Credential = typeof credentials.$inferSelect;

// One row (id = 1), created by the migration: the key version new secrets are sealed with.
export const credentialEncryption = pgTable(
	'credential_encryption',
	{
		id: smallint('id').primaryKey().default(1),
		keyVersion: integer('key_version').notNull().default(1),
		rotatedAt: timestamp('rotated_at', { withTimezone: true })
	},
	(table) => [check('credential_encryption_single_row', sql`${table.id} = 1`)]
);
