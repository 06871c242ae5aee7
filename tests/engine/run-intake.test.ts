import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import {
	offerRunsTo,
	startRunBatched,
	type IntakeWorker
} from '../../src/lib/server/engine/run-intake.ts';
import type { ClaimedStep, RunSnapshot } from '../../src/lib/server/db/run-queue.ts';
import { buildGraph } from '../../src/lib/server/engine/definition.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { waitUntil } from '../helpers/deadline.ts';
import { createEngineHarness, passKind, type EngineHarness } from '../helpers/engine.ts';

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

// The same with a step that is not inline first (see NodeKind.inline).
const withPass = {
	...definition,
	nodes: [
		...definition.nodes.slice(0, 1),
		{ id: 'first', kind: 'pass', config: {} },
		...definition.nodes.slice(1)
	],
	edges: [
		{ from: 'start', to: 'first' },
		{ from: 'first', to: 'double' },
		{ from: 'double', to: 'done' }
	]
};
let passWorkflowId: string;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [passKind]);
	workflowId = await engine.publish(definition);
	passWorkflowId = await engine.publish(withPass, 'With a pass step');
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
			// No worker runs here: each is created with its input step done and the next one ready.
			expect(run).toMatchObject({ status: 'queued', input: { n }, trigger: 'manual', eventSeq: 2 });
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
		expect(await engine.eventTypes(ids[0] as string)).toEqual(['run.queued', 'step.succeeded']);
		const created = await engine.steps(ids[0] as string);
		expect(created.start).toMatchObject({ status: 'succeeded', output: { n: 0 }, attempt: 1 });
		expect(created.double?.status).toBe('ready');
		expect(created.done?.status).toBe('pending');
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

describe('a run created where a worker has free slots', () => {
	beforeAll(() => engine.stopWorkers());

	/** Stands in for a worker: grants `slots`, records what it is handed. */
	function recordingWorker(slots: number) {
		const adopted: { snapshot: RunSnapshot; steps: ClaimedStep[] }[] = [];
		let free = slots;
		let released = 0;
		const worker: IntakeWorker = {
			id: `intake-${randomUUID()}`,
			leaseMs: 30_000,
			running: () => true,
			// It executes nothing inline: its steps are left claimed, for it.
			inlineNodes: () => () => false,
			executeInline: () => Promise.resolve(null),
			reserve(wanted) {
				const granted = Math.min(wanted, free);
				free -= granted;
				return granted;
			},
			adopt(snapshot, steps) {
				adopted.push({ snapshot, steps });
			},
			release(count) {
				released += count;
				free += count;
			}
		};
		return { worker, adopted, released: () => released };
	}

	it('is created with its first step claimed by that worker, up to its free slots', async () => {
		const { worker, adopted, released } = recordingWorker(2);
		const withdraw = offerRunsTo(testDb.database.db, worker);
		let started;
		try {
			started = await Promise.all([1, 2, 3].map((n) => engine.start(workflowId, { n })));
		} finally {
			withdraw();
		}
		const handed = started.filter((run) => run.status === 'running');
		const left = started.filter((run) => run.status === 'queued');
		expect(handed).toHaveLength(2);
		expect(left).toHaveLength(1);
		expect(released()).toBe(0);
		expect(adopted.map(({ snapshot }) => snapshot.run.id).sort()).toEqual(
			handed.map((run) => run.id).sort()
		);
		for (const run of handed) {
			expect(run.eventSeq).toBe(3);
			expect(await engine.eventTypes(run.id)).toEqual([
				'run.queued',
				'step.succeeded',
				'step.started'
			]);
			const steps = await engine.steps(run.id);
			expect(steps.start).toMatchObject({ status: 'succeeded', output: run.input });
			expect(steps.double).toMatchObject({
				status: 'running',
				leasedBy: worker.id,
				attempt: 1,
				leaseEpoch: 1
			});
			// What the worker is handed is what the database holds.
			const { snapshot, steps: claimed } = adopted.find(
				(handoff) => handoff.snapshot.run.id === run.id
			)!;
			expect(snapshot.seq).toBe(3);
			expect(claimed).toHaveLength(1);
			expect(claimed[0]).toMatchObject({
				id: steps.double?.id,
				nodeId: 'double',
				attempt: 1,
				leaseEpoch: 1,
				claimedFrom: 'ready',
				finished: [{ nodeId: 'start', output: run.input, branch: null }]
			});
			const due = await query<{ leased: boolean }>(
				sql`select due_at > clock_timestamp() + interval '20 seconds' as leased
					from run_steps where id = ${steps.double?.id}`
			);
			expect(due[0]?.leased).toBe(true);
		}
		const [queued] = left;
		expect((await engine.steps(queued!.id)).double?.status).toBe('ready');
		// The handed steps are the worker's to run; no other worker may take them while leased.
		const others = await query<{ id: string }>(
			sql`select id from run_steps where status = 'ready' and run_id::text in ${textList(
				started.map((run) => run.id)
			)}`
		);
		expect(others).toHaveLength(1);
		// A real worker finishes the queued run and, once the leases run out, the handed ones too.
		await testDb.database.db.execute(
			sql`update run_steps set due_at = clock_timestamp() where leased_by = ${worker.id}`
		);
		await engine.startWorker();
		for (const run of started) {
			expect((await engine.waitFor(run.id)).output).toEqual((run.input as { n: number }).n * 2);
		}
		await engine.stopWorkers();
	});

	it('gives back the slots when the statement fails and the runs are created one by one', async () => {
		const { worker, adopted, released } = recordingWorker(4);
		const withdraw = offerRunsTo(testDb.database.db, worker);
		try {
			const version = await query<{ id: string }>(
				sql`select id from workflow_versions where workflow_id = ${workflowId} and number = 1`
			);
			const run = (n: number, versionId = version[0]?.id ?? '') => ({
				workspaceId: engine.workspaceId,
				workflowId,
				versionId,
				definition: buildGraph(definition).definition,
				input: { n },
				trigger: 'api' as const,
				createdBy: null
			});
			const entry = { action: 'run.start', workspaceId: engine.workspaceId };
			const outcomes = await Promise.allSettled([
				startRunBatched(testDb.database.db, run(1), entry),
				startRunBatched(testDb.database.db, run(2, randomUUID()), entry)
			]);
			expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);
			expect(adopted).toEqual([]);
			expect(released()).toBe(2);
		} finally {
			withdraw();
		}
	});

	it('runs to the end on a real worker, which is handed the runs it has room for', async () => {
		// Runs earlier tests left queued are taken too.
		const [left] = await query<{ n: number }>(
			sql`select count(*)::int as n from runs where status = 'queued'`
		);
		const real = await engine.startWorker({ concurrency: 2 });
		try {
			const started = await Promise.all(
				[1, 2, 3, 4, 5].map((n) => engine.start(passWorkflowId, { n }))
			);
			expect(started.filter((run) => run.status === 'running').length).toBeGreaterThan(0);
			for (const run of started) {
				const finished = await engine.waitFor(run.id);
				expect(finished.output).toEqual((run.input as { n: number }).n * 2);
				const events = await engine.eventTypes(run.id);
				expect(events.slice(0, 3)).toEqual(['run.queued', 'step.succeeded', 'step.started']);
				expect(events.at(-1)).toBe('run.succeeded');
			}
			// One commit per run: the steps after `first` are executed in its commit.
			expect(real.commits).toEqual({ inMemory: 5 + (left?.n ?? 0), transactional: 0 });
		} finally {
			await engine.stopWorkers();
		}
		// A stopped worker is offered nothing: the next run waits, queued, for the next worker.
		const after = await engine.start(workflowId, { n: 9 });
		expect(after.status).toBe('queued');
	});
});

describe('a run whose first steps are inline, created where a worker runs', () => {
	afterEach(() => engine.stopWorkers());

	it('is created finished, its inline steps executed before it is written, even with no slot free', async () => {
		// Runs earlier tests left queued are taken too.
		const [left] = await query<{ n: number }>(
			sql`select count(*)::int as n from runs where status = 'queued'`
		);
		const real = await engine.startWorker({ concurrency: 1 });
		const started = await Promise.all([1, 2, 3].map((n) => engine.start(workflowId, { n })));
		for (const run of started) {
			const n = (run.input as { n: number }).n;
			expect(run).toMatchObject({ status: 'succeeded', output: n * 2, eventSeq: 7 });
			expect(run.startedAt).not.toBeNull();
			expect(run.finishedAt).not.toBeNull();
			expect(await engine.eventTypes(run.id)).toEqual([
				'run.queued',
				'step.succeeded',
				'step.started',
				'step.succeeded',
				'step.started',
				'step.succeeded',
				'run.succeeded'
			]);
			const steps = await engine.steps(run.id);
			expect(
				Object.fromEntries(
					Object.entries(steps).map(([id, step]) => [
						id,
						[step.status, step.attempt, step.input, step.output, step.leasedBy, step.dueAt]
					])
				)
			).toEqual({
				start: ['succeeded', 1, { n }, { n }, null, null],
				double: ['succeeded', 1, { n }, n * 2, null, null],
				done: ['succeeded', 1, n * 2, n * 2, null, null]
			});
			for (const step of Object.values(steps)) expect(step.finishedAt).not.toBeNull();
		}
		await waitUntil(
			async () => {
				const [queued] = await query<{ n: number }>(
					sql`select count(*)::int as n from runs where status in ('queued', 'running')`
				);
				return queued?.n === 0;
			},
			{ what: 'the runs left queued to finish', baseMs: 10_000 }
		);
		expect(real.commits).toEqual({ inMemory: left?.n ?? 0, transactional: 0 });
	});

	it('leaves an inline step that fails claimed by the worker, which records the failure', async () => {
		const broken = await engine.publish(
			{
				nodes: [
					{ id: 'start', kind: 'input', config: {} },
					{
						id: 'broken',
						kind: 'transform',
						config: { expression: '$error("no good")' },
						retry: { maxAttempts: 1 }
					}
				],
				edges: [{ from: 'start', to: 'broken' }]
			},
			'Broken'
		);
		const real = await engine.startWorker({ concurrency: 1 });
		const run = await engine.start(broken, {});
		expect(run.status).toBe('running');
		const finished = await engine.waitFor(run.id);
		expect(finished.status).toBe('failed');
		expect(finished.error?.message).toContain('no good');
		expect(real.commits).toEqual({ inMemory: 0, transactional: 1 });
		expect((await engine.steps(run.id)).broken).toMatchObject({ status: 'failed', attempt: 1 });
	});

	it('is not executed where the worker does not decide commits in memory', async () => {
		const real = await engine.startWorker({ concurrency: 1, inMemoryCommits: false });
		const run = await engine.start(workflowId, { n: 4 });
		// Claimed by it, as any first step.
		expect(run.status).toBe('running');
		expect((await engine.waitFor(run.id)).output).toBe(8);
		expect(real.commits).toEqual({ inMemory: 0, transactional: 2 });
	});
});
