import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { startRunBatched } from '../../src/lib/server/engine/run-intake.ts';
import { buildGraph } from '../../src/lib/server/engine/definition.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

/** Runs started at the same moment share one statement, yet each is its own, audited and complete. */

const testDb = useTestDatabase();
let engine: EngineHarness;
let workflowId: string;

const definition = {
	inputs: [{ name: 'n', type: 'number' as const, required: true }],
	nodes: [
		{ id: 'start', kind: 'input', config: {} },
		{ id: 'double', kind: 'transform', config: { expression: 'n * 2' } },
		{ id: 'done', kind: 'output', config: {} }
	],
	edges: [
		{ from: 'start', to: 'double' },
		{ from: 'double', to: 'done' }
	]
};

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	workflowId = await engine.publish(definition);
});
afterAll(() => engine.stopWorkers());

/** A list of values for `in`, passed as one JSON parameter. */
const textList = (values: string[]) =>
	sql`(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

async function query<T>(statement: ReturnType<typeof sql>): Promise<T[]> {
	return rows<T>(await testDb.database.db.execute(statement));
}

describe('runs started together', () => {
	it('are each created with their steps, run.queued event and audit entry, and all run', async () => {
		const started = await Promise.all(
			Array.from({ length: 40 }, (_, n) => engine.start(workflowId, { n }))
		);
		const ids = started.map((run) => run.id);
		expect(new Set(ids).size).toBe(40);
		for (const [n, run] of started.entries()) {
			expect(run).toMatchObject({ status: 'queued', input: { n }, trigger: 'manual', eventSeq: 1 });
		}
		// The row the statement returned is the run as a later read gives it.
		const [first] = started;
		expect(first).toEqual(
			await runsDb.get(testDb.database.db, engine.workspaceId, ids[0] as string)
		);
		const steps = await query<{ run_id: string; count: number }>(
			sql`select run_id, count(*)::int as count from run_steps where run_id::text in ${textList(ids)} group by run_id`
		);
		expect(steps.map((row) => row.count)).toEqual(Array(40).fill(3));
		const audit = await query<{ target_id: string; actor_user_id: string; details: unknown }>(
			sql`select target_id, actor_user_id, details from audit_log
				where action = 'run.start' and target_id in ${textList(ids)}`
		);
		expect(audit.map((row) => row.target_id).sort()).toEqual([...ids].sort());
		expect(audit[0]).toMatchObject({
			actor_user_id: engine.owner.principal.user.id,
			details: { workflowId, version: expect.any(Number), trigger: 'manual' }
		});
		expect(await engine.eventTypes(ids[0] as string)).toEqual(['run.queued']);
		await engine.startWorker();
		for (const [n, run] of started.entries()) {
			expect((await engine.waitFor(run.id)).output).toEqual(n * 2);
		}
	});

	it('give one run per idempotency key when the same key arrives at once', async () => {
		const key = `key-${randomUUID()}`;
		const runs = await Promise.all(
			Array.from({ length: 8 }, () => engine.start(workflowId, { n: 1 }, key))
		);
		expect(new Set(runs.map((run) => run.id)).size).toBe(1);
		const audit = await query<{ count: number }>(
			sql`select count(*)::int as count from audit_log where action = 'run.start' and target_id = ${runs[0]?.id}`
		);
		expect(audit[0]?.count).toBe(1);
	});

	it('lose none when one of them cannot be written: that one fails alone', async () => {
		const graph = buildGraph(definition);
		const version = await query<{ id: string }>(
			sql`select id from workflow_versions where workflow_id = ${workflowId} and number = 1`
		);
		const good = (n: number) => ({
			workspaceId: engine.workspaceId,
			workflowId,
			versionId: version[0]?.id ?? '',
			definition: graph.definition,
			input: { n },
			trigger: 'api' as const,
			createdBy: null
		});
		const entry = {
			action: 'run.start',
			workspaceId: engine.workspaceId,
			ip: null,
			userAgent: null
		};
		// A version that does not exist: the shared statement fails on its foreign key.
		const bad = { ...good(0), versionId: randomUUID() };
		const outcomes = await Promise.allSettled([
			startRunBatched(testDb.database.db, good(1), entry),
			startRunBatched(testDb.database.db, bad, entry),
			startRunBatched(testDb.database.db, good(2), entry)
		]);
		expect(outcomes.map((outcome) => outcome.status)).toEqual([
			'fulfilled',
			'rejected',
			'fulfilled'
		]);
		const made = outcomes.flatMap((outcome) =>
			outcome.status === 'fulfilled' ? [outcome.value.run.id] : []
		);
		const stored = await query<{ id: string }>(
			sql`select id from runs where id::text in ${textList(made)}`
		);
		expect(stored).toHaveLength(2);
		const audited = await query<{ count: number }>(
			sql`select count(*)::int as count from audit_log where target_id in ${textList(made)}`
		);
		expect(audited[0]?.count).toBe(2);
	});
});
