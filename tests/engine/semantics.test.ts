import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../../src/lib/server/db/migrate.ts';
import {
	cancelRun,
	decideApproval,
	listApprovals,
	rerun
} from '../../src/lib/server/services/runs.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { createProbeKind, type ProbeExecution } from '../helpers/probe-kind.ts';
import { meta } from '../helpers/services.ts';
import { saveVersion } from '../../src/lib/server/services/workflows.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;
const executions: ProbeExecution[] = [];
const executionsOf = (label: string) => executions.filter((execution) => execution.label === label);

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [
		createProbeKind((e) => void executions.push(e))
	]);
	await engine.startWorker({ concurrency: 8 });
});
afterAll(() => engine.stopWorkers());

const node = (id: string, kind: string, config: Record<string, unknown> = {}, extra = {}) => ({
	id,
	kind,
	config,
	...extra
});
const edge = (from: string, to: string, branch?: string) =>
	branch ? { from, to, branch } : { from, to };

async function runToEnd(definition: unknown, input: unknown = {}) {
	const workflowId = await engine.publish(definition);
	const run = await engine.start(workflowId, input);
	return { run: await engine.waitFor(run.id), steps: await engine.steps(run.id), workflowId };
}

describe('branching', () => {
	const branching = {
		inputs: [{ name: 'n', type: 'number', required: true }],
		nodes: [
			node('start', 'input'),
			node('big', 'condition', { expression: 'n > 10' }),
			node('yes', 'transform', { expression: '"big"' }),
			node('no', 'transform', { expression: '"small"' }),
			node('after_no', 'transform', { expression: '$ & "!"' }),
			node('merge', 'join', { mode: 'all' }),
			node('done', 'output')
		],
		edges: [
			edge('start', 'big'),
			edge('big', 'yes', 'true'),
			edge('big', 'no', 'false'),
			edge('no', 'after_no'),
			edge('yes', 'merge'),
			edge('after_no', 'merge'),
			edge('merge', 'done')
		]
	};

	it('skips the untaken branch and everything only it leads to; the join knows', async () => {
		const { run, steps } = await runToEnd(branching, { n: 42 });
		expect(run.status).toBe('succeeded');
		expect(steps.big?.branch).toBe('true');
		expect(steps.no?.status).toBe('skipped');
		expect(steps.after_no?.status).toBe('skipped');
		expect(steps.merge?.status).toBe('succeeded');
		expect(run.output).toEqual({ yes: 'big' });
	});

	it('takes the other branch for other input', async () => {
		const { run, steps } = await runToEnd(branching, { n: 1 });
		expect(steps.yes?.status).toBe('skipped');
		expect(run.output).toEqual({ after_no: 'small!' });
	});

	it('routes a switch to the first matching case, else default', async () => {
		const definition = {
			inputs: [{ name: 'color', type: 'string', required: true }],
			nodes: [
				node('start', 'input'),
				node('route', 'switch', {
					cases: [
						{ label: 'warm', expression: 'color in ["red", "orange"]' },
						{ label: 'cool', expression: 'color in ["blue", "green"]' }
					]
				}),
				node('w', 'transform', { expression: '"warm"' }),
				node('c', 'transform', { expression: '"cool"' }),
				node('d', 'transform', { expression: '"other"' }),
				node('done', 'output', { value: '$' })
			],
			edges: [
				edge('start', 'route'),
				edge('route', 'w', 'warm'),
				edge('route', 'c', 'cool'),
				edge('route', 'd', 'default'),
				edge('w', 'done'),
				edge('c', 'done'),
				edge('d', 'done')
			]
		};
		expect((await runToEnd(definition, { color: 'blue' })).run.output).toBe('cool');
		expect((await runToEnd(definition, { color: 'pink' })).run.output).toBe('other');
	});
});

describe('parallel and join', () => {
	const fanOut = (mode: Record<string, unknown>) => ({
		nodes: [
			node('start', 'input'),
			node('fan', 'parallel'),
			node('fast', 'probe', { label: 'fast' }),
			node('slow', 'probe', { label: 'slow', sleepMs: 300 }),
			node('slower', 'probe', { label: 'slower', sleepMs: 600 }),
			node('join', 'join', mode),
			node('done', 'output', { value: '$keys($)' })
		],
		edges: [
			edge('start', 'fan'),
			edge('fan', 'fast'),
			edge('fan', 'slow'),
			edge('fan', 'slower'),
			edge('fast', 'join'),
			edge('slow', 'join'),
			edge('slower', 'join'),
			edge('join', 'done')
		]
	});

	it('join all waits for every branch', async () => {
		const { run } = await runToEnd(fanOut({ mode: 'all' }));
		expect(run.output).toEqual(['fast', 'slow', 'slower']);
	});

	it('join any goes on with the first branch', async () => {
		const { run, steps } = await runToEnd(fanOut({ mode: 'any' }));
		expect(run.status).toBe('succeeded');
		expect(run.output).toBe('fast');
		// The other branches still finish: nothing is abandoned half-way.
		expect(steps.slower?.status).toBe('succeeded');
	});

	it('join first-n waits for n branches', async () => {
		const { run } = await runToEnd(fanOut({ mode: 'first-n', n: 2 }));
		expect(run.output).toEqual(['fast', 'slow']);
	});
});

describe('map', () => {
	it('runs each item as its own step with at most `concurrency` at once, output in item order', async () => {
		const before = executionsOf('item').length;
		const { run } = await runToEnd(
			{
				inputs: [{ name: 'items', type: 'array', required: true }],
				nodes: [
					node('start', 'input'),
					node('each', 'map', {
						items: 'items',
						concurrency: 2,
						node: { kind: 'probe', config: { label: 'item', sleepMs: 100 } }
					}),
					node('done', 'output', { value: '$.input' })
				],
				edges: [edge('start', 'each'), edge('each', 'done')]
			},
			{ items: [1, 2, 3, 4, 5] }
		);
		expect(run.status).toBe('succeeded');
		expect(run.output).toEqual([1, 2, 3, 4, 5]);
		expect(executionsOf('item').length - before).toBe(5);
		// Each iteration has its own key, none of them the map step's own (`run:each`).
		const keys = executionsOf('item')
			.filter((e) => e.idempotencyKey.startsWith(run.id))
			.map((e) => e.idempotencyKey)
			.sort();
		expect(keys).toEqual([0, 1, 2, 3, 4].map((i) => `${run.id}:each:${i}`));
		const result = await testDb.database.db.execute(sql`
			select iteration, started_at, finished_at from run_steps
			where run_id = ${run.id} and iteration >= 0 order by iteration
		`);
		const spans = rows<{ started_at: Date; finished_at: Date }>(result).map((row) => [
			new Date(row.started_at).getTime(),
			new Date(row.finished_at).getTime()
		]);
		expect(spans).toHaveLength(5);
		// At no instant were more than two iterations running.
		for (const [start] of spans) {
			const overlapping = spans.filter(
				([s, f]) => (s as number) <= (start as number) && (f as number) > (start as number)
			);
			expect(overlapping.length).toBeLessThanOrEqual(2);
		}
	});
});

describe('retries, timeouts and failure', () => {
	it('retries a failing step with backoff and the same idempotency key', async () => {
		const { run, steps } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node(
					'flaky',
					'probe',
					{ label: 'flaky', failTimes: 2 },
					{
						retry: { maxAttempts: 3, initialDelayMs: 50, jitter: false }
					}
				)
			],
			edges: [edge('start', 'flaky')]
		});
		expect(run.status).toBe('succeeded');
		expect(steps.flaky?.attempt).toBe(3);
		const keys = executionsOf('flaky')
			.filter((e) => e.idempotencyKey.startsWith(run.id))
			.map((e) => e.idempotencyKey);
		expect(keys).toEqual([`${run.id}:flaky`, `${run.id}:flaky`, `${run.id}:flaky`]);
		const events = await engine.eventTypes(run.id);
		expect(events.filter((type) => type === 'step.retrying')).toHaveLength(2);
	});

	it('fails the run when retries are exhausted and cancels what remains', async () => {
		const { run, steps } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node(
					'broken',
					'probe',
					{ label: 'broken', failTimes: 5 },
					{
						retry: { maxAttempts: 2, initialDelayMs: 10 }
					}
				),
				node('after', 'transform', { expression: '1' })
			],
			edges: [edge('start', 'broken'), edge('broken', 'after')]
		});
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'probe_failed', nodeId: 'broken' });
		expect(steps.after?.status).toBe('cancelled');
	});

	it('times a step out through its abort signal', async () => {
		const { run, steps } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node('sleepy', 'probe', { label: 'sleepy', sleepMs: 60_000 }, { timeoutMs: 200 })
			],
			edges: [edge('start', 'sleepy')]
		});
		expect(run.status).toBe('failed');
		expect(steps.sleepy?.error).toMatchObject({ code: 'timeout' });
	});

	it('times out a step even when the code ignores the signal', async () => {
		const { run } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node(
					'stubborn',
					'probe',
					{ label: 'stubborn', sleepMs: 2_000, ignoreAbort: true },
					{ timeoutMs: 100 }
				)
			],
			edges: [edge('start', 'stubborn')]
		});
		expect(run.error).toMatchObject({ code: 'timeout' });
	});

	it('ends a run with the fail node’s error', async () => {
		const { run } = await runToEnd(
			{
				nodes: [
					node('start', 'input'),
					node('stop', 'fail', { code: 'no_stock', message: 'Out of {{ input.item }}' })
				],
				edges: [edge('start', 'stop')]
			},
			{}
		);
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'no_stock', nodeId: 'stop' });
	});

	it('fails a run that exceeds its own time limit', async () => {
		const { run } = await runToEnd({
			timeoutMs: 1_000,
			nodes: [node('start', 'input'), node('wait', 'delay', { duration: '1h' })],
			edges: [edge('start', 'wait')]
		});
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'run_timeout' });
	});
});

describe('waiting', () => {
	it('a delay parks the step without holding a worker and resumes it', async () => {
		const { run, steps } = await runToEnd(
			{
				nodes: [
					node('start', 'input'),
					node('pause', 'delay', { duration: '300ms' }),
					node('done', 'output')
				],
				edges: [edge('start', 'pause'), edge('pause', 'done')]
			},
			{}
		);
		expect(run.status).toBe('succeeded');
		expect(steps.pause?.status).toBe('succeeded');
		const events = await engine.eventTypes(run.id);
		expect(events).toContain('step.waiting');
		expect(events).toContain('run.waiting');
	});

	it('an approval waits for a person and follows the decision', async () => {
		const workflowId = await engine.publish({
			nodes: [
				node('start', 'input'),
				node('ask', 'approval', { title: 'Ship it?' }),
				node('shipped', 'transform', { expression: '"shipped"' }),
				node('held', 'transform', { expression: '"held"' }),
				node('done', 'output', { value: '$' })
			],
			edges: [
				edge('start', 'ask'),
				edge('ask', 'shipped', 'approved'),
				edge('ask', 'held', 'rejected'),
				edge('shipped', 'done'),
				edge('held', 'done')
			]
		});
		const run = await engine.start(workflowId);
		await engine.waitFor(run.id, ['waiting']);
		const { ctx, owner, workspaceId } = engine;
		const pending = await listApprovals(ctx, owner.principal, workspaceId, 'pending');
		const approval = pending.find((item) => item.runId === run.id);
		expect(approval?.title).toBe('Ship it?');
		await decideApproval(
			ctx,
			owner.principal,
			workspaceId,
			approval?.id as string,
			{ approved: true, comment: 'go' },
			meta
		);
		const finished = await engine.waitFor(run.id);
		expect(finished.output).toBe('shipped');
		await expect(
			decideApproval(
				ctx,
				owner.principal,
				workspaceId,
				approval?.id as string,
				{ approved: false, comment: '' },
				meta
			)
		).rejects.toMatchObject({ type: 'conflict' });
	});

	it('an approval past its deadline takes the configured outcome', async () => {
		const { run, steps } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node('ask', 'approval', { title: 'Anyone?', timeout: '300ms', onTimeout: 'approve' }),
				node('done', 'output')
			],
			edges: [edge('start', 'ask'), edge('ask', 'done', 'approved')]
		});
		expect(run.status).toBe('succeeded');
		expect(steps.ask?.branch).toBe('approved');
		expect(run.output).toMatchObject({ approved: true, expired: true });
	});

	it('a subworkflow starts a child run of a pinned version and waits for it', async () => {
		const childId = await engine.publish(
			{
				inputs: [{ name: 'x', type: 'number', required: true }],
				nodes: [
					node('start', 'input'),
					node('double', 'transform', { expression: 'x * 2' }),
					node('done', 'output')
				],
				edges: [edge('start', 'double'), edge('double', 'done')]
			},
			'Child'
		);
		const { run } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node('child', 'subworkflow', { workflowId: childId, input: '{ "x": 21 }' }),
				node('done', 'output')
			],
			edges: [edge('start', 'child'), edge('child', 'done')]
		});
		expect(run.status).toBe('succeeded');
		expect(run.output).toBe(42);
		const children = await testDb.database.db.execute(
			sql`select trigger, status from runs where parent_run_id = ${run.id}`
		);
		expect(rows(children)).toEqual([{ trigger: 'workflow', status: 'succeeded' }]);
	});
});

describe('subworkflow guards', () => {
	it('refuses a child input that does not match the child workflow’s inputs', async () => {
		const childId = await engine.publish(
			{
				inputs: [{ name: 'x', type: 'number', required: true }],
				nodes: [node('start', 'input')],
				edges: []
			},
			'Strict child'
		);
		const { run } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node('child', 'subworkflow', { workflowId: childId, input: '{ "x": "not a number" }' })
			],
			edges: [edge('start', 'child')]
		});
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'subworkflow_invalid_input', nodeId: 'child' });
	});

	it('stops a workflow that starts itself after ten levels', async () => {
		const workflowId = await engine.publish(
			{ nodes: [node('start', 'input')], edges: [] },
			'Recursive'
		);
		await saveVersion(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			{
				definition: {
					nodes: [node('start', 'input'), node('again', 'subworkflow', { workflowId })],
					edges: [edge('start', 'again')]
				},
				note: 'calls itself',
				publish: true
			},
			meta
		);
		const run = await engine.start(workflowId);
		const finished = await engine.waitFor(run.id, undefined, 60_000);
		expect(finished.status).toBe('failed');
		const result = await testDb.database.db.execute(sql`
			select count(*)::int as n from runs where workflow_id = ${workflowId}
		`);
		expect(rows<{ n: number }>(result)[0]?.n).toBe(10);
	});
});

describe('cancellation and re-runs', () => {
	it('cancellation reaches an in-flight step through its signal', async () => {
		const workflowId = await engine.publish({
			nodes: [
				node('start', 'input'),
				node('long', 'probe', { label: 'long', sleepMs: 60_000 }),
				node('after', 'transform', { expression: '1' })
			],
			edges: [edge('start', 'long'), edge('long', 'after')]
		});
		const run = await engine.start(workflowId);
		await expect
			.poll(() => executionsOf('long').some((e) => e.idempotencyKey.startsWith(run.id)))
			.toBe(true);
		await cancelRun(engine.ctx, engine.owner.principal, engine.workspaceId, run.id, meta);
		const finished = await engine.waitFor(run.id);
		expect(finished.status).toBe('cancelled');
		const steps = await engine.steps(run.id);
		expect(steps.long?.status).toBe('cancelled');
		expect(steps.after?.status).toBe('cancelled');
		// The worker let go of it: a new run goes through at once.
		expect((await runToEnd({ nodes: [node('start', 'input')], edges: [] })).run.status).toBe(
			'succeeded'
		);
	});

	it('re-runs from a step with edited input, reusing what is upstream', async () => {
		const { run } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node('first', 'probe', { label: 'first' }),
				node('second', 'transform', { expression: '$' }),
				node('done', 'output')
			],
			edges: [edge('start', 'first'), edge('first', 'second'), edge('second', 'done')]
		});
		const firstRuns = executionsOf('first').length;
		const again = await rerun(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			run.id,
			{ fromNodeId: 'second', input: { edited: true } },
			meta
		);
		const finished = await engine.waitFor(again.id);
		expect(finished.rerunOf).toBe(run.id);
		expect(finished.output).toEqual({ edited: true });
		const steps = await engine.steps(again.id);
		expect(steps.first?.reused).toBe(true);
		expect(executionsOf('first').length).toBe(firstRuns);
	});

	it('retries a failed run, executing only what did not succeed', async () => {
		const { run } = await runToEnd({
			nodes: [
				node('start', 'input'),
				node('ok', 'probe', { label: 'ok-before-failure' }),
				node('bad', 'probe', { label: 'bad-once', failFirstExecutions: 1 })
			],
			edges: [edge('start', 'ok'), edge('ok', 'bad')]
		});
		expect(run.status).toBe('failed');
		const retried = await rerun(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			run.id,
			{ fromNodeId: null },
			meta
		);
		const finished = await engine.waitFor(retried.id);
		expect(finished.status).toBe('succeeded');
		expect(executionsOf('ok-before-failure')).toHaveLength(1);
	});
});

describe('run creation', () => {
	it('the same Idempotency-Key from 20 concurrent requests creates one run', async () => {
		const workflowId = await engine.publish({ nodes: [node('start', 'input')], edges: [] });
		const created = await Promise.all(
			Array.from({ length: 20 }, () => engine.start(workflowId, {}, 'order-7'))
		);
		expect(new Set(created.map((run) => run.id)).size).toBe(1);
		const count = await testDb.database.db.execute(
			sql`select count(*)::int as n from runs where workflow_id = ${workflowId}`
		);
		expect(rows<{ n: number }>(count)[0]?.n).toBe(1);
	});

	it('refuses input that does not match the declared inputs', async () => {
		const workflowId = await engine.publish({
			inputs: [{ name: 'n', type: 'number', required: true }],
			nodes: [node('start', 'input')],
			edges: []
		});
		await expect(engine.start(workflowId, { n: 'seven', extra: 1 })).rejects.toMatchObject({
			type: 'invalid',
			fields: { n: expect.any(String), input: expect.any(String) }
		});
	});
});
