import { and, desc, eq, sql } from 'drizzle-orm';
import type { WorkflowDefinition } from '../../schemas/workflow.ts';
import type { Db } from './index.ts';
import {
	workflowVersions,
	workflows,
	type Workflow,
	type WorkflowVersion
} from './schema/index.ts';

export async function create(
	db: Db,
	values: { workspaceId: string; name: string; description: string; createdBy: string }
): Promise<Workflow> {
	const [workflow] = await db.insert(workflows).values(values).returning();
	if (!workflow) throw new Error('insert returned no row');
	return workflow;
}

export async function get(db: Db, workspaceId: string, id: string): Promise<Workflow | null> {
	const [workflow] = await db
		.select()
		.from(workflows)
		.where(and(eq(workflows.workspaceId, workspaceId), eq(workflows.id, id)));
	return workflow ?? null;
}

export type WorkflowSummary = Workflow & { publishedNumber: number | null };

export async function list(db: Db, workspaceId: string): Promise<WorkflowSummary[]> {
	const rows = await db
		.select({ workflow: workflows, publishedNumber: workflowVersions.number })
		.from(workflows)
		.leftJoin(workflowVersions, eq(workflowVersions.id, workflows.publishedVersionId))
		.where(eq(workflows.workspaceId, workspaceId))
		.orderBy(desc(workflows.updatedAt));
	return rows.map((row) => ({ ...row.workflow, publishedNumber: row.publishedNumber }));
}

export async function update(
	db: Db,
	workspaceId: string,
	id: string,
	values: Partial<Pick<Workflow, 'name' | 'description' | 'publishedVersionId'>>
): Promise<Workflow | null> {
	const [workflow] = await db
		.update(workflows)
		.set({ ...values, updatedAt: sql`now()` })
		.where(and(eq(workflows.workspaceId, workspaceId), eq(workflows.id, id)))
		.returning();
	return workflow ?? null;
}

export async function remove(db: Db, workspaceId: string, id: string): Promise<boolean> {
	const deleted = await db
		.delete(workflows)
		.where(and(eq(workflows.workspaceId, workspaceId), eq(workflows.id, id)))
		.returning({ id: workflows.id });
	return deleted.length > 0;
}

/** Appends the next version; the row lock on the workflow numbers concurrent saves one after another. */
export async function addVersion(
	db: Db,
	values: {
		workspaceId: string;
		workflowId: string;
		definition: WorkflowDefinition;
		note: string;
		createdBy: string | null;
	}
): Promise<WorkflowVersion> {
	const [bumped] = await db
		.update(workflows)
		.set({ latestVersion: sql`${workflows.latestVersion} + 1`, updatedAt: sql`now()` })
		.where(and(eq(workflows.workspaceId, values.workspaceId), eq(workflows.id, values.workflowId)))
		.returning({ number: workflows.latestVersion });
	if (!bumped) throw new Error('workflow not found');
	const [version] = await db
		.insert(workflowVersions)
		.values({ ...values, number: bumped.number })
		.returning();
	if (!version) throw new Error('insert returned no row');
	return version;
}

export async function getVersion(
	db: Db,
	workspaceId: string,
	workflowId: string,
	number: number
): Promise<WorkflowVersion | null> {
	const [version] = await db
		.select()
		.from(workflowVersions)
		.where(
			and(
				eq(workflowVersions.workspaceId, workspaceId),
				eq(workflowVersions.workflowId, workflowId),
				eq(workflowVersions.number, number)
			)
		);
	return version ?? null;
}

export async function getVersionById(
	db: Db,
	workspaceId: string,
	id: string
): Promise<WorkflowVersion | null> {
	const [version] = await db
		.select()
		.from(workflowVersions)
		.where(and(eq(workflowVersions.workspaceId, workspaceId), eq(workflowVersions.id, id)));
	return version ?? null;
}

export type VersionSummary = Omit<WorkflowVersion, 'definition'>;

export async function listVersions(
	db: Db,
	workspaceId: string,
	workflowId: string
): Promise<VersionSummary[]> {
	return db
		.select({
			id: workflowVersions.id,
			workflowId: workflowVersions.workflowId,
			workspaceId: workflowVersions.workspaceId,
			number: workflowVersions.number,
			note: workflowVersions.note,
			createdBy: workflowVersions.createdBy,
			createdAt: workflowVersions.createdAt
		})
		.from(workflowVersions)
		.where(
			and(
				eq(workflowVersions.workspaceId, workspaceId),
				eq(workflowVersions.workflowId, workflowId)
			)
		)
		.orderBy(desc(workflowVersions.number));
}
