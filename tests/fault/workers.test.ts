import { execSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { createProbeKind } from '../helpers/probe-kind.ts';
import {
	createProbeTable,
	probeExecutions,
	startWorkerProcess,
	until,
	type WorkerProcess
} from './fault-harness.ts';

// Real worker processes need a shared PostgreSQL; PGlite cases live in tests/engine.
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const testDb = useTestDatabase();
let engine: EngineHarness;
const started: WorkerProcess[] = [];

async function worker(env: Record<string, string> = {}) {
	const process = await startWorkerProcess(testDb.url as string, env);
	started.push(process);
	return process;
}

beforeAll(async () => {
	if (!onPostgres) return;
	// The harness only publishes and starts runs here: no worker runs in the test process.
	engine = await createEngineHarness(testDb.database, [createProbeKind(() => {})]);
	await createProbeTable(testDb.database);
});

afterEach(async () => {
	for (const process of started.splice(0)) {
		process.kill('SIGKILL');
		await process.exited;
	}
});
afterAll(() => engine?.stopWorkers());

const chain = (middle: Record<string, unknown>) => ({
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'a', kind: 'probe', config: { label: 'a' } },
		{ id: 'b', kind: 'probe', config: { label: 'b', ...middle } },
		{ id: 'c', kind: 'probe', config: { label: 'c' } }
	],
	edges: [
		{ from: 'start', to: 'a' },
		{ from: 'a', to: 'b' },
		{ from: 'b', to: 'c' }
	]
});

const stepOutput = async (runId: string, nodeId: string) =>
	(await runsDb.listSteps(testDb.database.db, runId)).find((step) => step.nodeId === nodeId)
		?.output as { pid: number } | undefined;

describe.skipIf(!onPostgres)('worker faults (real processes on PostgreSQL)', () => {
	it('SIGKILL mid-step: another worker completes the run, finished steps are not re-executed', async () => {
		const workflowId = await engine.publish(chain({ sleepMs: 5_000 }));
		const first = await worker();
		const run = await engine.start(workflowId);
		await until(
			() => probeExecutions(testDb.database, run.id),
			(list) => list.some((e) => e.label === 'b')
		);
		first.kill('SIGKILL');
		await first.exited;
		const second = await worker();
		const finished = await engine.waitFor(run.id, undefined, 60_000);
		expect(finished.status).toBe('succeeded');
		const executions = await probeExecutions(testDb.database, run.id);
		const count = (label: string) => executions.filter((e) => e.label === label).length;
		expect(count('a')).toBe(1);
		expect(count('c')).toBe(1);
		const b = executions.filter((e) => e.label === 'b');
		expect(b.map((e) => e.pid)).toEqual([first.pid, second.pid]);
		// The interrupted step ran again under the same idempotency key, as a new attempt.
		expect(new Set(b.map((e) => e.idempotency_key))).toEqual(new Set([`${run.id}:b`]));
		expect(b.map((e) => e.attempt)).toEqual([1, 2]);
	});

	it('SIGSTOP past the lease: the takeover wins and the zombie’s late commit is rejected', async () => {
		// The probe ignores aborts, so the paused worker really tries to commit when it wakes up.
		const workflowId = await engine.publish(chain({ sleepMs: 1_500, ignoreAbort: true }));
		const zombie = await worker();
		const run = await engine.start(workflowId);
		await until(
			() => probeExecutions(testDb.database, run.id),
			(list) => list.some((e) => e.label === 'b')
		);
		zombie.kill('SIGSTOP');
		const successor = await worker();
		const finished = await engine.waitFor(run.id, undefined, 60_000);
		expect(finished.status).toBe('succeeded');
		zombie.kill('SIGCONT');
		await until(
			async () => zombie.output(),
			(text) => text.includes('step result dropped'),
			20_000
		);
		expect((await stepOutput(run.id, 'b'))?.pid).toBe(successor.pid);
		const executions = await probeExecutions(testDb.database, run.id);
		expect(executions.filter((e) => e.label === 'c')).toHaveLength(1);
		expect((await runsDb.get(testDb.database.db, engine.workspaceId, run.id))?.status).toBe(
			'succeeded'
		);
	});

	const restartCommand = process.env.TEST_POSTGRES_RESTART;
	it.skipIf(!restartCommand)('PostgreSQL restarted mid-run: the run completes', async () => {
		const workflowId = await engine.publish({
			nodes: [
				{ id: 'start', kind: 'input' },
				...['s1', 's2', 's3', 's4'].map((id) => ({
					id,
					kind: 'probe',
					config: { label: id, sleepMs: 700 }
				}))
			],
			edges: [
				{ from: 'start', to: 's1' },
				{ from: 's1', to: 's2' },
				{ from: 's2', to: 's3' },
				{ from: 's3', to: 's4' }
			]
		});
		await worker();
		const run = await engine.start(workflowId);
		await until(
			() => probeExecutions(testDb.database, run.id),
			(list) => list.some((e) => e.label === 's2')
		);
		execSync(restartCommand as string, { stdio: 'ignore' });
		const finished = await until(
			() => runsDb.get(testDb.database.db, engine.workspaceId, run.id).catch(() => null),
			(value) => value?.status === 'succeeded' || value?.status === 'failed',
			90_000
		);
		expect(finished?.status).toBe('succeeded');
		const executions = await probeExecutions(testDb.database, run.id);
		expect(executions.filter((e) => e.label === 's4')).toHaveLength(1);
	});
});
