import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { claimDueSteps } from '../../src/lib/server/db/run-queue.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { planCommit, writeCommits } from '../../src/lib/server/engine/fast-commit.ts';
import type { AnyNodeKind } from '../../src/lib/server/engine/kinds/types.ts';
import { createGraphLoader, type GraphLoader } from '../../src/lib/server/engine/transitions.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, passKind, type EngineHarness } from '../helpers/engine.ts';

const testDb = useTestDatabase();

/** Marked inline, yet slower than an inline step may be: its executions are counted. */
let slowExecutions = 0;
const slowInlineKind: AnyNodeKind = {
	kind: 'slow_inline',
	description: 'Passes its input on after 300 ms (a test probe).',
	configSchema: z.object({}).strict(),
	inline: true,
	branches: () => 'none',
	async execute(context) {
		slowExecutions += 1;
		await new Promise((resolve) => setTimeout(resolve, 300));
		return { type: 'succeeded', output: context.input };
	}
};
let engine: EngineHarness;
let loadGraph: GraphLoader;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [passKind, slowInlineKind]);
	loadGraph = createGraphLoader(testDb.database.db);
});
afterEach(() => engine.stopWorkers());

const node = (id: string, kind: string, config: Record<string, unknown> = {}) => ({
	id,
	kind,
	config
});

// Branches, a skipped path, a fan-out, a join and an output expression: every decision a commit makes.
const definition = {
	inputs: [{ name: 'n', type: 'number', required: true }],
	nodes: [
		node('start', 'input'),
		node('big', 'condition', { expression: 'n > 10' }),
		node('yes', 'transform', { expression: '"big"' }),
		node('no', 'transform', { expression: '"small"' }),
		node('after_no', 'transform', { expression: '$ & "!"' }),
		node('fan', 'parallel'),
		node('a', 'transform', { expression: '1' }),
		node('b', 'transform', { expression: '2' }),
		node('c', 'transform', { expression: '3' }),
		node('merge', 'join', { mode: 'all' })
	],
	edges: [
		{ from: 'start', to: 'big' },
		{ from: 'big', to: 'yes', branch: 'true' },
		{ from: 'big', to: 'no', branch: 'false' },
		{ from: 'no', to: 'after_no' },
		{ from: 'yes', to: 'fan' },
		{ from: 'after_no', to: 'fan' },
		{ from: 'fan', to: 'a' },
		{ from: 'fan', to: 'b' },
		{ from: 'fan', to: 'c' },
		{ from: 'a', to: 'merge' },
		{ from: 'b', to: 'merge' },
		{ from: 'c', to: 'merge' }
	],
	output:
		'{ "sum": $steps.a.output + $steps.b.output + $steps.c.output, "path": $steps.yes.output }'
};

async function eventsOf(runId: string) {
	const result = await testDb.database.db.execute(sql`
		select seq, type, node_id from run_events where run_id = ${runId} order by seq
	`);
	return rows<{ seq: number; type: string; node_id: string | null }>(result);
}

describe('commits decided in memory', () => {
	// Every node of `definition` is inline: with in-memory commits the run is created finished (its
	// steps executed before the intake statement); after a `pass` step, they are all executed in
	// the one commit of that step. The transactional path commits each node step on its own.
	it.each([
		{ name: 'at intake', first: null, commits: { inMemory: 0, transactional: 0 } },
		{ name: 'in a commit', first: 'pass', commits: { inMemory: 1, transactional: 0 } }
	])('record what a transactional commit records ($name)', async ({ first, commits }) => {
		const workflowId = await engine.publish(
			first === null
				? definition
				: {
						...definition,
						nodes: [...definition.nodes, node('first', first)],
						edges: [
							{ from: 'start', to: 'first' },
							{ from: 'first', to: 'big' },
							...definition.edges.slice(1)
						]
					}
		);
		const outcomes = [];
		for (const inMemoryCommits of [true, false]) {
			const worker = await engine.startWorker({ concurrency: 4, inMemoryCommits });
			const run = await engine.start(workflowId, { n: 42 });
			const finished = await engine.waitFor(run.id);
			const steps = await engine.steps(run.id);
			const events = await eventsOf(run.id);
			// Sequence numbers have no gap and no duplicate.
			expect(events.map((event) => Number(event.seq))).toEqual(events.map((_, i) => i + 1));
			outcomes.push({
				status: finished.status,
				output: finished.output,
				steps: Object.fromEntries(
					Object.entries(steps).map(([id, step]) => [
						id,
						[step.status, step.input, step.output, step.branch, step.attempt, step.leasedBy]
					])
				),
				// Branches finish in any order: compare each node's events, not the interleaving.
				events: events
					.map((event) => `${event.node_id ?? 'run'} ${event.type}`)
					.sort()
					.join('\n'),
				commits: { ...worker.commits }
			});
			await engine.stopWorkers();
		}
		const [inMemory, transactional] = outcomes;
		expect(inMemory?.status).toBe('succeeded');
		expect(inMemory?.output).toEqual({ sum: 6, path: 'big' });
		expect(inMemory?.steps).toEqual(transactional?.steps);
		expect(inMemory?.events).toEqual(transactional?.events);
		expect(inMemory?.steps.no?.[0]).toBe('skipped');
		expect(inMemory?.commits).toEqual(commits);
		// Every node step but the input one, which the run was created with.
		expect(transactional?.commits).toEqual({
			inMemory: 0,
			transactional: first === null ? 7 : 8
		});
	});

	it('execute the inline steps they claim and record them in the same commit', async () => {
		const workflowId = await engine.publish({
			inputs: [{ name: 'n', type: 'number', required: true }],
			nodes: [
				node('start', 'input'),
				node('first', 'pass'),
				node('inc', 'transform', { expression: 'n + 1' }),
				node('double', 'transform', { expression: '$ * 2' }),
				node('done', 'output', { value: '{ "result": $ }' })
			],
			edges: [
				{ from: 'start', to: 'first' },
				{ from: 'first', to: 'inc' },
				{ from: 'inc', to: 'double' },
				{ from: 'double', to: 'done' }
			]
		});
		const worker = await engine.startWorker({ concurrency: 1 });
		const run = await engine.start(workflowId, { n: 4 });
		const finished = await engine.waitFor(run.id);
		expect(finished.status).toBe('succeeded');
		expect(finished.output).toEqual({ result: 10 });
		// `first` is executed on its own; `inc`, `double` and `done` in its commit.
		expect(worker.commits).toEqual({ inMemory: 1, transactional: 0 });
		const steps = await engine.steps(run.id);
		expect(
			Object.fromEntries(
				Object.entries(steps).map(([id, step]) => [
					id,
					[step.status, step.attempt, step.input, step.output, step.leasedBy]
				])
			)
		).toEqual({
			start: ['succeeded', 1, { n: 4 }, { n: 4 }, null],
			first: ['succeeded', 1, { n: 4 }, { n: 4 }, null],
			inc: ['succeeded', 1, { n: 4 }, 5, null],
			double: ['succeeded', 1, 5, 10, null],
			done: ['succeeded', 1, 10, { result: 10 }, null]
		});
		for (const step of Object.values(steps)) {
			expect(step.startedAt).not.toBeNull();
			expect(step.finishedAt).not.toBeNull();
		}
		const events = await eventsOf(run.id);
		expect(events.map((event) => `${event.node_id ?? 'run'} ${event.type}`)).toEqual([
			'run run.queued',
			'start step.succeeded',
			'first step.started',
			'first step.succeeded',
			'inc step.started',
			'inc step.succeeded',
			'double step.started',
			'double step.succeeded',
			'done step.started',
			'done step.succeeded',
			'run run.succeeded'
		]);
		expect(events.map((event) => Number(event.seq))).toEqual(events.map((_, i) => i + 1));
	});

	it('leave an inline step that fails claimed, to be executed and fail on its own', async () => {
		const workflowId = await engine.publish({
			nodes: [
				node('start', 'input'),
				node('first', 'pass'),
				{
					...node('broken', 'transform', { expression: '$error("no good")' }),
					retry: { maxAttempts: 1 }
				}
			],
			edges: [
				{ from: 'start', to: 'first' },
				{ from: 'first', to: 'broken' }
			]
		});
		const worker = await engine.startWorker({ concurrency: 1 });
		const run = await engine.start(workflowId, {});
		const finished = await engine.waitFor(run.id);
		expect(finished.status).toBe('failed');
		expect(finished.error).toMatchObject({ nodeId: 'broken' });
		expect(finished.error?.message).toContain('no good');
		expect(worker.commits).toEqual({ inMemory: 1, transactional: 1 });
		const steps = await engine.steps(run.id);
		expect([steps.first?.status, steps.broken?.status, steps.broken?.attempt]).toEqual([
			'succeeded',
			'failed',
			1
		]);
		expect(await engine.eventTypes(run.id)).toEqual([
			'run.queued',
			'step.succeeded',
			'step.started',
			'step.succeeded',
			'step.started',
			'step.failed',
			'run.failed'
		]);
	});

	it.each([
		{ name: 'in a commit', first: 'pass', commits: { inMemory: 2, transactional: 0 } },
		{ name: 'at intake', first: null, commits: { inMemory: 1, transactional: 0 } }
	])(
		'leave an inline step that is too slow to be executed on its own ($name)',
		async ({ first, commits }) => {
			const chain = [...(first === null ? [] : [first]), 'slow_inline', 'output'];
			const workflowId = await engine.publish({
				inputs: [{ name: 'v', type: 'number', required: true }],
				nodes: [node('start', 'input'), ...chain.map((kind, i) => node(`n${i}`, kind))],
				edges: chain.map((_, i) => ({ from: i === 0 ? 'start' : `n${i - 1}`, to: `n${i}` }))
			});
			slowExecutions = 0;
			const worker = await engine.startWorker({ concurrency: 1 });
			const run = await engine.start(workflowId, { v: 1 });
			const finished = await engine.waitFor(run.id);
			expect(finished).toMatchObject({ status: 'succeeded', output: { v: 1 } });
			// Abandoned once where it was to be executed inline, then executed on its own.
			expect(slowExecutions).toBe(2);
			expect(worker.commits).toEqual(commits);
			const steps = Object.values(await engine.steps(run.id));
			expect(steps.map((step) => [step.status, step.attempt])).toEqual(
				steps.map(() => ['succeeded', 1])
			);
		}
	);

	it('change nothing when the run moved on since the snapshot (a lease taken over)', async () => {
		const workflowId = await engine.publish({
			nodes: [
				node('start', 'input'),
				node('first', 'transform', { expression: '1' }),
				node('next', 'transform', { expression: '2' })
			],
			edges: [
				{ from: 'start', to: 'first' },
				{ from: 'first', to: 'next' }
			]
		});
		// No worker runs: the run is created with its input step done and `first` ready.
		const run = await engine.start(workflowId, {});
		const db = testDb.database.db;
		const [zombie] = await claimDueSteps(db, { workerId: 'zombie', limit: 1, leaseMs: 1_000 });
		const [{ event_seq: seq } = { event_seq: -1 }] = rows<{ event_seq: number }>(
			await db.execute(sql`select event_seq from runs where id = ${run.id}`)
		);
		// The claim saw the run consistently: its snapshot is the run as of its sequence number.
		expect(zombie?.snapshot?.seq).toBe(Number(seq));
		expect(zombie?.snapshot?.steps.map((step) => [step.node_id, step.status]).sort()).toEqual([
			['first', 'running'],
			['next', 'pending'],
			['start', 'succeeded']
		]);

		await db.execute(
			sql`update run_steps set due_at = now() - interval '1 second' where id = ${zombie?.id}`
		);
		const [successor] = await claimDueSteps(db, {
			workerId: 'successor',
			limit: 1,
			leaseMs: 30_000
		});
		expect(successor?.id).toBe(zombie?.id);

		const graph = await loadGraph(run.versionId);
		const claim = { workerId: 'zombie', leaseMs: 30_000, limit: 1 };
		const stale = await planCommit(
			zombie!.snapshot!,
			graph,
			zombie!,
			{},
			{ output: 'from the zombie' },
			claim
		);
		expect(stale).not.toBeNull();
		expect(await writeCommits(db, [stale!], claim)).toEqual(new Map());
		const { first } = await engine.steps(run.id);
		expect(first?.status).toBe('running');
		expect(first?.output).toBeNull();

		// The successor's snapshot is current: its commit applies and claims `next` for it.
		const fresh = await planCommit(
			successor!.snapshot!,
			graph,
			successor!,
			{},
			{ output: 'from the successor' },
			{ ...claim, workerId: 'successor' }
		);
		const written = await writeCommits(db, [fresh!], { workerId: 'successor', leaseMs: 30_000 });
		expect(written.get(run.id)?.map((event) => event.type)).toEqual([
			'step.succeeded',
			'step.started'
		]);
		expect(fresh?.claimed.map((step) => step.nodeId)).toEqual(['next']);
		const steps = await engine.steps(run.id);
		expect(steps.first?.output).toBe('from the successor');
		expect(steps.next?.status).toBe('running');
		expect(steps.next?.leasedBy).toBe('successor');
	});

	it('write the commits of many runs in one statement', async () => {
		const workflowId = await engine.publish({
			nodes: [node('start', 'input')],
			edges: [],
			inputs: [{ name: 'value', type: 'number', required: true }],
			output: '$steps.start.output.value * 2'
		});
		const runs = await Promise.all(
			[1, 2, 3, 4, 5].map((value) => engine.start(workflowId, { value }))
		);
		const db = testDb.database.db;
		const claimed = await claimDueSteps(db, { workerId: 'batch', limit: 10, leaseMs: 30_000 });
		expect(claimed).toHaveLength(5);
		const graph = await loadGraph(runs[0]!.versionId);
		const plans = await Promise.all(
			claimed.map((step) =>
				planCommit(step.snapshot!, graph, step, step.runInput, { output: step.runInput }, null)
			)
		);
		const written = await writeCommits(
			db,
			plans.map((plan) => plan!),
			{
				workerId: 'batch',
				leaseMs: 30_000
			}
		);
		expect(written.size).toBe(5);
		for (const run of runs) {
			const finished = await runsDb.get(db, engine.workspaceId, run.id);
			expect(finished?.status).toBe('succeeded');
			expect(finished?.output).toBe((run.input as { value: number }).value * 2);
			expect((await eventsOf(run.id)).map((event) => event.type)).toEqual([
				'run.queued',
				'step.started',
				'step.succeeded',
				'run.succeeded'
			]);
		}
	});
});
