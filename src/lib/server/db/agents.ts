import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { agents, modelProviders, type Agent, type ModelProvider } from './schema/index.ts';

export async function create(db: Db, values: typeof agents.$inferInsert): Promise<Agent> {
	const [agent] = await db.insert(agents).values(values).returning();
	if (!agent) throw new Error('insert returned no row');
	return agent;
}

export async function get(db: Db, workspaceId: string, id: string): Promise<Agent | null> {
	const [agent] = await db
		.select()
		.from(agents)
		.where(and(eq(agents.workspaceId, workspaceId), eq(agents.id, id)));
	return agent ?? null;
}

/** An agent with its provider, both of the one workspace. */
export async function getWithProvider(
	db: Db,
	workspaceId: string,
	id: string
): Promise<{ agent: Agent; provider: ModelProvider } | null> {
	const [row] = await db
		.select({ agent: agents, provider: modelProviders })
		.from(agents)
		.innerJoin(
			modelProviders,
			and(
				eq(modelProviders.id, agents.providerId),
				eq(modelProviders.workspaceId, agents.workspaceId)
			)
		)
		.where(and(eq(agents.workspaceId, workspaceId), eq(agents.id, id)));
	return row ?? null;
}

/** An agent with the name of its provider, for lists. */
export type AgentWithProvider = Agent & {
	providerName: string;
	providerKind: ModelProvider['kind'];
};

export async function list(db: Db, workspaceId: string): Promise<AgentWithProvider[]> {
	const rows = await db
		.select({ agent: agents, providerName: modelProviders.name, providerKind: modelProviders.kind })
		.from(agents)
		.innerJoin(modelProviders, eq(modelProviders.id, agents.providerId))
		.where(eq(agents.workspaceId, workspaceId))
		.orderBy(asc(sql`lower(${agents.name})`), asc(agents.id));
	return rows.map((row) => ({
		...row.agent,
		providerName: row.providerName,
		providerKind: row.providerKind
	}));
}

export async function update(
	db: Db,
	workspaceId: string,
	id: string,
	values: Partial<
		Omit<typeof agents.$inferInsert, 'id' | 'workspaceId' | 'createdBy' | 'createdAt'>
	>
): Promise<Agent | null> {
	const [agent] = await db
		.update(agents)
		.set(values)
		.where(and(eq(agents.workspaceId, workspaceId), eq(agents.id, id)))
		.returning();
	return agent ?? null;
}

export async function remove(db: Db, workspaceId: string, id: string): Promise<Agent | null> {
	const [deleted] = await db
		.delete(agents)
		.where(and(eq(agents.workspaceId, workspaceId), eq(agents.id, id)))
		.returning();
	return deleted ?? null;
}

export const nameIndex = 'agents_workspace_name_idx';
