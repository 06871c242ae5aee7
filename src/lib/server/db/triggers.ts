import { and, asc, eq, lte, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { triggers, workflowVersions, workflows, type Trigger } from './schema/index.ts';

export async function create(db: Db, values: typeof triggers.$inferInsert): Promise<Trigger> {
	const [trigger] = await db.insert(triggers).values(values).returning();
	if (!trigger) throw new Error('insert returned no row');
	return trigger;
}

export async function get(
	db: Db,
	workspaceId: string,
	workflowId: string,
	id: string
): Promise<Trigger | null> {
	const [trigger] = await db
		.select()
		.from(triggers)
		.where(
			and(
				eq(triggers.workspaceId, workspaceId),
				eq(triggers.workflowId, workflowId),
				eq(triggers.id, id)
			)
		);
	return trigger ?? null;
}

export async function getById(db: Db, id: string): Promise<Trigger | null> {
	const [trigger] = await db.select().from(triggers).where(eq(triggers.id, id));
	return trigger ?? null;
}

/** What `POST /hooks/{id}` starts a run on: the trigger and its workflow's published version. */
export interface WebhookTarget {
	trigger: Trigger;
	/** Null until the workflow's first publish. */
	publishedVersion: { id: string; number: number } | null;
}

function webhookTargetQuery(db: Db) {
	return db
		.select({
			trigger: triggers,
			versionId: workflowVersions.id,
			versionNumber: workflowVersions.number
		})
		.from(triggers)
		.innerJoin(workflows, eq(workflows.id, triggers.workflowId))
		.leftJoin(workflowVersions, eq(workflowVersions.id, workflows.publishedVersionId))
		.where(eq(triggers.id, sql.placeholder('id')))
		.prepare('webhook_target');
}

const webhookTargetQueries = new WeakMap<Db, ReturnType<typeof webhookTargetQuery>>();

/**
 * For `POST /hooks/{id}`, where the id and its secret are all a caller has to go on: the trigger
 * and its workflow's published version in one round trip, read afresh on every call so that a
 * trigger disabled, deleted or given a new token, or a workflow published again, counts at once.
 * The statement is built once per database.
 */
export async function getWebhookTarget(db: Db, id: string): Promise<WebhookTarget | null> {
	let query = webhookTargetQueries.get(db);
	if (query === undefined) webhookTargetQueries.set(db, (query = webhookTargetQuery(db)));
	const [found] = await query.execute({ id });
	if (found === undefined) return null;
	const { trigger, versionId, versionNumber } = found;
	return {
		trigger,
		publishedVersion:
			versionId === null || versionNumber === null ? null : { id: versionId, number: versionNumber }
	};
}

export async function list(db: Db, workspaceId: string, workflowId: string): Promise<Trigger[]> {
	return db
		.select()
		.from(triggers)
		.where(and(eq(triggers.workspaceId, workspaceId), eq(triggers.workflowId, workflowId)))
		.orderBy(asc(triggers.createdAt), asc(triggers.id));
}

export async function update(
	db: Db,
	workspaceId: string,
	id: string,
	values: Partial<
		Pick<
			Trigger,
			'name' | 'enabled' | 'config' | 'tokenHash' | 'signingSecret' | 'nextFireAt' | 'lastFiredAt'
		>
	>
): Promise<Trigger | null> {
	const [trigger] = await db
		.update(triggers)
		.set(values)
		.where(and(eq(triggers.workspaceId, workspaceId), eq(triggers.id, id)))
		.returning();
	return trigger ?? null;
}

export async function remove(
	db: Db,
	workspaceId: string,
	workflowId: string,
	id: string
): Promise<boolean> {
	const deleted = await db
		.delete(triggers)
		.where(
			and(
				eq(triggers.workspaceId, workspaceId),
				eq(triggers.workflowId, workflowId),
				eq(triggers.id, id)
			)
		)
		.returning({ id: triggers.id });
	return deleted.length > 0;
}

/**
 * Locks up to `limit` enabled schedules due at `now`. SKIP LOCKED lets several workers share the
 * work: a schedule another transaction holds is passed over, and once that commits it is no longer due.
 * Call inside a transaction; the locks last until it ends.
 */
export async function claimDueSchedules(db: Db, now: Date, limit: number): Promise<Trigger[]> {
	return db
		.select()
		.from(triggers)
		.where(
			and(eq(triggers.kind, 'schedule'), eq(triggers.enabled, true), lte(triggers.nextFireAt, now))
		)
		.orderBy(asc(triggers.nextFireAt))
		.limit(limit)
		.for('update', { skipLocked: true });
}
