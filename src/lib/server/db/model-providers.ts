import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './index.ts';
import { agents, credentials, modelProviders, type ModelProvider } from './schema/index.ts';

/** A provider with the name of the credential it uses (null: none), for lists and forms. */
export type ProviderWithCredential = ModelProvider & { credentialName: string | null };

export async function create(
	db: Db,
	values: typeof modelProviders.$inferInsert
): Promise<ModelProvider> {
	const [provider] = await db.insert(modelProviders).values(values).returning();
	if (!provider) throw new Error('insert returned no row');
	return provider;
}

export async function get(db: Db, workspaceId: string, id: string): Promise<ModelProvider | null> {
	const [provider] = await db
		.select()
		.from(modelProviders)
		.where(and(eq(modelProviders.workspaceId, workspaceId), eq(modelProviders.id, id)));
	return provider ?? null;
}

export async function list(db: Db, workspaceId: string): Promise<ProviderWithCredential[]> {
	const rows = await db
		.select({ provider: modelProviders, credentialName: credentials.name })
		.from(modelProviders)
		.leftJoin(credentials, eq(credentials.id, modelProviders.credentialId))
		.where(eq(modelProviders.workspaceId, workspaceId))
		.orderBy(asc(sql`lower(${modelProviders.name})`), asc(modelProviders.id));
	return rows.map((row) => ({ ...row.provider, credentialName: row.credentialName }));
}

export async function update(
	db: Db,
	workspaceId: string,
	id: string,
	values: Partial<
		Pick<
			ModelProvider,
			| 'name'
			| 'baseUrl'
			| 'credentialId'
			| 'defaultModel'
			| 'concurrency'
			| 'timeoutMs'
			| 'script'
			| 'updatedAt'
		>
	>
): Promise<ModelProvider | null> {
	const [provider] = await db
		.update(modelProviders)
		.set(values)
		.where(and(eq(modelProviders.workspaceId, workspaceId), eq(modelProviders.id, id)))
		.returning();
	return provider ?? null;
}

export async function remove(
	db: Db,
	workspaceId: string,
	id: string
): Promise<ModelProvider | null> {
	const [deleted] = await db
		.delete(modelProviders)
		.where(and(eq(modelProviders.workspaceId, workspaceId), eq(modelProviders.id, id)))
		.returning();
	return deleted ?? null;
}

/** The names of the agents that use a provider, by name. */
export async function agentNamesUsing(db: Db, providerId: string): Promise<string[]> {
	const rows = await db
		.select({ name: agents.name })
		.from(agents)
		.where(eq(agents.providerId, providerId))
		.orderBy(asc(sql`lower(${agents.name})`));
	return rows.map((row) => row.name);
}

/** The names of the providers that use a credential, by name. */
export async function namesUsingCredential(db: Db, credentialId: string): Promise<string[]> {
	const rows = await db
		.select({ name: modelProviders.name })
		.from(modelProviders)
		.where(eq(modelProviders.credentialId, credentialId))
		.orderBy(asc(sql`lower(${modelProviders.name})`));
	return rows.map((row) => row.name);
}

export const nameIndex = 'model_providers_workspace_name_idx';
