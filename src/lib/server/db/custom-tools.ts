import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { customTools, type CustomTool } from './schema/index.ts';

export async function create(db: Db, values: typeof customTools.$inferInsert): Promise<CustomTool> {
	const [tool] = await db.insert(customTools).values(values).returning();
	if (!tool) throw new Error('insert returned no row');
	return tool;
}

export async function get(db: Db, workspaceId: string, id: string): Promise<CustomTool | null> {
	const [tool] = await db
		.select()
		.from(customTools)
		.where(and(eq(customTools.workspaceId, workspaceId), eq(customTools.id, id)));
	return tool ?? null;
}

export async function list(db: Db, workspaceId: string): Promise<CustomTool[]> {
	return db
		.select()
		.from(customTools)
		.where(eq(customTools.workspaceId, workspaceId))
		.orderBy(asc(sql`lower(${customTools.name})`), asc(customTools.id));
}

export async function update(
	db: Db,
	workspaceId: string,
	id: string,
	values: Partial<
		Pick<
			CustomTool,
			| 'name'
			| 'description'
			| 'inputSchema'
			| 'source'
			| 'risk'
			| 'requiresApproval'
			| 'allowFetch'
			| 'updatedAt'
		>
	>
): Promise<CustomTool | null> {
	const [tool] = await db
		.update(customTools)
		.set(values)
		.where(and(eq(customTools.workspaceId, workspaceId), eq(customTools.id, id)))
		.returning();
	return tool ?? null;
}

export async function remove(db: Db, workspaceId: string, id: string): Promise<CustomTool | null> {
	const [deleted] = await db
		.delete(customTools)
		.where(and(eq(customTools.workspaceId, workspaceId), eq(customTools.id, id)))
		.returning();
	return deleted ?? null;
}

/** Whether a failed statement broke the one-name-per-workspace rule (drizzle wraps the driver error). */
export function isDuplicateName(error: unknown): boolean {
	let cause = error;
	for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth += 1) {
		const { code, constraint, constraint_name } = cause as Record<string, unknown>;
		// postgres.js names the index in `constraint_name`, PGlite in `constraint`.
		if (code === '23505')
			return (constraint_name ?? constraint) === 'custom_tools_workspace_name_idx';
		cause = (cause as { cause?: unknown }).cause;
	}
	return false;
}
