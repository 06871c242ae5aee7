import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { agentKinds } from '../../src/lib/server/services/agent-runtime.ts';
import { createTooling } from '../../src/lib/server/tools/tooling.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { startWorkerProcess, until, type WorkerProcess } from './fault-harness.ts';

// The durability promise of agents: a worker killed in the middle of an agent's loop loses at most
// the model request in flight. Another worker finishes the run from the journal, and the model
// server never sees a second request for a turn that had finished.

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const testDb = useTestDatabase();
let engine: EngineHarness;
let fake: FakeLlm;
const started: WorkerProcess[] = [];

async function worker() {
	// The fake model server is on loopback: allow-listed as an operator would a local model server.
	const process = await startWorkerProcess(testDb.url as string, {
		AWE_HTTP_ALLOW: `127.0.0.1:${fake.port}`
	});
	started.push(process);
	return process;
}

beforeAll(async () => {
	if (!onPostgres) return;
	fake = await startFakeLlm();
	// Publishes and starts runs only (the kinds check definitions): agents run in the workers.
	const lookupCredential = async () => null;
	const tooling = createTooling({ lookupCredential, allow: [], codeRunners: 1 });
	const kinds = agentKinds({
		db: testDb.database.db,
		logger: createLogger({ LOG_LEVEL: 'silent', NODE_ENV: 'test' }),
		tools: { registry: tooling.tools, sandbox: tooling.sandbox, http: tooling.http },
		lookupCredential,
		http: tooling.http
	});
	engine = await createEngineHarness(testDb.database, kinds);
});

afterEach(async () => {
	for (const process of started.splice(0)) {
		process.kill('SIGKILL');
		await process.exited;
	}
});
afterAll(async () => {
	await engine?.stopWorkers();
	await fake?.close();
});

/** The model requests the fake server got, by how many messages they carried (one per turn). */
function requestsByTurn(): number[] {
	return fake.requests
		.filter((request) => request.path === '/v1/chat/completions')
		.map((request) => (request.body?.messages as unknown[]).length);
}

describe.skipIf(!onPostgres)('agent faults (real worker processes on PostgreSQL)', () => {
	it('SIGKILL mid-loop: the run completes and no finished turn is requested again', async () => {
		// No credential: an OpenAI-compatible server that needs no key (a local model server).
		const inserted = await testDb.database.db.execute(sql`
			insert into model_providers (workspace_id, name, kind, base_url, default_model, concurrency, timeout_ms)
			values (${engine.workspaceId}, 'Local', 'openai-compatible', ${`${fake.url}/v1`}, 'local-model', 4, 60000)
			returning id
		`);
		const providerId = rows<{ id: string }>(inserted)[0]?.id;
		const workflowId = await engine.publish({
			nodes: [
				{ id: 'start', kind: 'input' },
				{
					id: 'agent',
					kind: 'agent',
					config: {
						providerId,
						prompt: 'What time is it?',
						tools: [{ type: 'builtin', name: 'current_time' }]
					}
				},
				{ id: 'done', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'agent' },
				{ from: 'agent', to: 'done' }
			]
		});
		fake.script(
			// Turn 0 asks for a tool; turn 1 streams slowly, and its worker is killed meanwhile.
			{ kind: 'reply', toolCalls: [{ name: 'current_time', arguments: {} }] },
			{ kind: 'reply', text: 'x'.repeat(100), chunkDelayMs: 200 },
			// Turn 1 again, on the second worker.
			{ kind: 'reply', text: 'It is noon.' }
		);
		const first = await worker();
		const run = await engine.start(workflowId);
		await until(
			async () => requestsByTurn(),
			(turns) => turns.length >= 2
		);
		first.kill('SIGKILL');
		await first.exited;
		await worker();
		const finished = await engine.waitFor(run.id, undefined, 60_000);
		expect(finished.status).toBe('succeeded');
		expect(finished.output).toBe('It is noon.');
		// Turn 0 (one message) was requested once; turn 1 (three messages) twice: the lost one.
		const turns = requestsByTurn();
		expect(turns.filter((count) => count === 1)).toHaveLength(1);
		expect(turns.filter((count) => count === 3)).toHaveLength(2);
		const children = (await runsDb.listSteps(testDb.database.db, run.id)).filter(
			(step) => step.path !== ''
		);
		const attempts = Object.fromEntries(children.map((step) => [step.path, step.attempt]));
		expect(attempts).toEqual({ t0: 1, 't0.c0': 1, t1: 2 });
		const ledger = await testDb.database.db.execute(
			sql`select count(*)::int as n from model_usage where run_id = ${run.id}`
		);
		// The killed request never committed: only finished turns are in the ledger.
		expect(rows<{ n: number }>(ledger)[0]?.n).toBe(2);
	});
});
