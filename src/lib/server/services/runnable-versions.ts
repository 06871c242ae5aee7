import { runInputSchema } from '../../schemas/workflow.ts';
import type { Db } from '../db/index.ts';
import type { WorkflowVersion } from '../db/schema/index.ts';
import * as workflows from '../db/workflows.ts';
import { LruCache } from '../platform/lru.ts';

/** A version as runs start on it: its definition, and the check of run inputs built from it. */
export interface RunnableVersion {
	id: string;
	number: number;
	definition: WorkflowVersion['definition'];
	inputSchema: ReturnType<typeof runInputSchema>;
}

/** Versions kept per database: enough for the workflows a busy webhook sender calls. */
export const runnableVersionCacheSize = 128;

// A version never changes once written (there is no update path), so a cached one is never stale:
// the cache saves reading and parsing the definition, and building the input check, on every run.
const caches = new WeakMap<
	Db,
	LruCache<string, { workspaceId: string; version: RunnableVersion }>
>();

/** Prepares a version read from the database for starting runs. */
export function runnableVersion(version: WorkflowVersion): RunnableVersion {
	const { id, number, definition } = version;
	return { id, number, definition, inputSchema: runInputSchema(definition.inputs) };
}

/** The version with this id in the workspace, from memory when it was read before; null if none. */
export async function getRunnableVersion(
	db: Db,
	workspaceId: string,
	versionId: string
): Promise<RunnableVersion | null> {
	let cache = caches.get(db);
	if (cache === undefined) caches.set(db, (cache = new LruCache(runnableVersionCacheSize)));
	const cached = cache.get(versionId);
	// The workspace is part of the question: an id from another workspace is not found here.
	if (cached !== undefined) return cached.workspaceId === workspaceId ? cached.version : null;
	const version = await workflows.getVersionById(db, workspaceId, versionId);
	if (version === null) return null;
	const runnable = runnableVersion(version);
	cache.set(versionId, { workspaceId, version: runnable });
	return runnable;
}
