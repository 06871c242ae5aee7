import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { createCredentialKeyring } from '../../src/lib/server/credentials/keyring.ts';
import { deltaChannel, type PublishedDelta } from '../../src/lib/server/channels.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { createGuardedHttp } from '../../src/lib/server/outbound/guarded-http.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { agentKinds } from '../../src/lib/server/services/agent-runtime.ts';
import { createCredential, credentialLookup } from '../../src/lib/server/services/credentials.ts';
import { cancelRun, decideApproval, listApprovals } from '../../src/lib/server/services/runs.ts';
import { createTool } from '../../src/lib/server/services/tools.ts';
import { createTooling } from '../../src/lib/server/tools/tooling.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { waitUntil } from '../helpers/deadline.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm.ts';
import { meta, testSecret } from '../helpers/services.ts';

// The agent loop end to end: real workers, the real OpenAI and Anthropic clients of the AI SDK
// talking HTTP to a local fake model server, tools, approvals, budgets and the cost ledger.

const testDb = useTestDatabase();
let engine: EngineHarness;
let fake: FakeLlm;
/** An echo server standing in for an API a tool calls: answers with the headers it got. */
let echo: http.Server;
let echoUrl: string;
let openaiProvider: string;
let anthropicProvider: string;
let blockedProvider: string;
const secret = 'sk-agent-secret-0123456789abcdef';
/** Every line the workers and the agent kinds log, at debug level. */
const logLines: string[] = [];

async function insertProvider(
	workspaceId: string,
	fields: { name: string; kind: string; baseUrl: string; credentialId: string | null }
): Promise<string> {
	const result = await testDb.database.db.execute(sql`
		insert into model_providers (workspace_id, name, kind, base_url, credential_id, default_model,
			concurrency, timeout_ms)
		values (${workspaceId}, ${fields.name}, ${fields.kind}, ${fields.baseUrl}, ${fields.credentialId},
			'fake-model', 4, 30000)
		returning id
	`);
	return rows<{ id: string }>(result)[0]?.id as string;
}

beforeAll(async () => {
	fake = await startFakeLlm({ apiKey: 'sk-test-key' });
	echo = http.createServer((request, response) => {
		response.setHeader('content-type', 'application/json');
		response.end(JSON.stringify({ headers: request.headers }));
	});
	await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
	echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/data`;
	const database = testDb.database;
	const logger = createLogger(
		{ LOG_LEVEL: 'debug', NODE_ENV: 'test' },
		{ write: (line: string) => void logLines.push(line) }
	);
	const lookupCredential = credentialLookup({
		db: database.db,
		keys: { credentials: createCredentialKeyring(testSecret) },
		now: () => new Date()
	});
	const allow = [
		{ host: '127.0.0.1', port: fake.port },
		{ host: '127.0.0.1', port: (echo.address() as AddressInfo).port }
	];
	const tooling = createTooling({ lookupCredential, allow, codeRunners: 1 });
	const kinds = agentKinds({
		db: database.db,
		logger,
		tools: { registry: tooling.tools, sandbox: tooling.sandbox, http: tooling.http },
		lookupCredential,
		http: createGuardedHttp({ allow })
	});
	engine = await createEngineHarness(database, kinds, { logger });
	await engine.startWorker({ concurrency: 4 });
	const { ctx, owner, workspaceId } = engine;
	const apiKey = 'sk-test-key';
	const openaiKey = await createCredential(
		ctx,
		owner.principal,
		workspaceId,
		{ name: 'OpenAI key', kind: 'openai', apiKey, baseUrl: null, organization: null },
		meta
	);
	const anthropicKey = await createCredential(
		ctx,
		owner.principal,
		workspaceId,
		{ name: 'Anthropic key', kind: 'anthropic', apiKey, baseUrl: null },
		meta
	);
	openaiProvider = await insertProvider(engine.workspaceId, {
		name: 'Fake OpenAI',
		kind: 'openai',
		baseUrl: `${fake.url}/v1`,
		credentialId: openaiKey.id
	});
	anthropicProvider = await insertProvider(engine.workspaceId, {
		name: 'Fake Anthropic',
		kind: 'anthropic',
		baseUrl: `${fake.url}/v1`,
		credentialId: anthropicKey.id
	});
	// The same server on an address that is not allow-listed (another loopback name).
	blockedProvider = await insertProvider(engine.workspaceId, {
		name: 'Private',
		kind: 'openai',
		baseUrl: `http://127.0.0.2:${fake.port}/v1`,
		credentialId: openaiKey.id
	});
});

// A test that failed early leaves replies that would answer the next test's requests.
afterEach(() => void fake.unscript());

afterAll(async () => {
	await engine?.stopWorkers();
	await fake?.close();
	await new Promise((resolve) => echo?.close(resolve));
});

const agentWorkflow = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
	inputs: [{ name: 'question', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'agent', kind: 'agent', config: { prompt: '{{ input.question }}', ...config } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'agent' },
		{ from: 'agent', to: 'done' }
	],
	...extra
});

async function runAgent(
	config: Record<string, unknown>,
	extra: Record<string, unknown> = {},
	question = 'What time is it?'
) {
	const workflowId = await engine.publish(agentWorkflow(config, extra));
	const started = await engine.start(workflowId, { question });
	return { run: await engine.waitFor(started.id), started };
}

async function childrenOf(runId: string) {
	const steps = await runsDb.listSteps(testDb.database.db, runId);
	return steps.filter((step) => step.path !== '').sort((a, b) => a.path.localeCompare(b.path));
}

async function ledger(runId: string) {
	const result = await testDb.database.db.execute(sql`
		select model, provider_kind, input_tokens, output_tokens, cached_input_tokens, cost_usd, priced
		from model_usage where run_id = ${runId} order by created_at
	`);
	return rows<{
		model: string;
		provider_kind: string;
		input_tokens: number;
		output_tokens: number;
		cached_input_tokens: number;
		cost_usd: number;
		priced: boolean;
	}>(result);
}

function requestsSince(index: number) {
	return fake.requests.slice(index).filter((request) => request.method === 'POST');
}

describe.each([
	['openai', () => openaiProvider, '/v1/chat/completions'],
	['anthropic', () => anthropicProvider, '/v1/messages']
] as const)('an agent on %s', (_name, provider, path) => {
	it('uses two tools, gets their results back and answers', async () => {
		const before = fake.requests.length;
		fake.script(
			{
				kind: 'reply',
				toolCalls: [
					{ name: 'current_time', arguments: { timeZone: 'Europe/Paris' } },
					{
						name: 'run_code',
						arguments: { source: 'return input.a + input.b', input: { a: 2, b: 3 } }
					}
				],
				usage: { inputTokens: 50, outputTokens: 10, cachedInputTokens: 20 }
			},
			{
				kind: 'reply',
				text: 'It is noon and 2 + 3 = 5.',
				usage: { inputTokens: 80, outputTokens: 12 }
			}
		);
		const { run } = await runAgent({
			providerId: provider(),
			instructions: 'You are precise.',
			tools: [
				{ type: 'builtin', name: 'current_time' },
				{ type: 'builtin', name: 'run_code' }
			]
		});
		expect(run.status).toBe('succeeded');
		expect(run.output).toBe('It is noon and 2 + 3 = 5.');
		const children = await childrenOf(run.id);
		expect(children.map((step) => [step.path, step.kind, step.status])).toEqual([
			['t0', 'agent.turn', 'succeeded'],
			['t0.c0', 'agent.tool', 'succeeded'],
			['t0.c1', 'agent.tool', 'succeeded'],
			['t1', 'agent.turn', 'succeeded']
		]);
		expect(children[2]?.output).toMatchObject({ result: { output: 5 } });
		// Between turns the agent is woken, not parked: the run never reads as waiting.
		expect(await engine.eventTypes(run.id)).not.toContain('run.waiting');
		const sent = requestsSince(before);
		expect(sent.map((request) => request.path)).toEqual([path, path]);
		// The second request carries both tool results, marked as untrusted data.
		const second = JSON.stringify(sent[1]?.body);
		expect(second).toContain('untrusted data');
		expect(second).toContain('Europe/Paris');
		expect(second).toContain('You are precise.');
		const usage = await ledger(run.id);
		expect(usage).toHaveLength(2);
		expect(usage[0]).toMatchObject({
			model: 'fake-model',
			input_tokens: 50,
			output_tokens: 10,
			cached_input_tokens: 20,
			priced: false
		});
		expect(Number(usage[0]?.cost_usd)).toBe(0);
	});
});

describe('structured output', () => {
	const schema = {
		type: 'object',
		properties: { city: { type: 'string' }, population: { type: 'number' } },
		required: ['city', 'population']
	};

	it('repairs an invalid answer once', async () => {
		const before = fake.requests.length;
		fake.script(
			{ kind: 'reply', text: '{"city": "Lyon"}' },
			{ kind: 'reply', text: '```json\n{"city": "Lyon", "population": 522250}\n```' }
		);
		const { run } = await runAgent({ providerId: openaiProvider, outputSchema: schema });
		expect(run.error).toBeNull();
		expect(run.output).toEqual({ city: 'Lyon', population: 522250 });
		const sent = requestsSince(before);
		expect(sent).toHaveLength(2);
		expect(JSON.stringify(sent[1]?.body)).toContain('does not match the required JSON Schema');
	});

	it('fails with invalid_output and the model text when the repair is invalid too', async () => {
		fake.script({ kind: 'reply', text: 'Lyon, I think' }, { kind: 'reply', text: 'Still Lyon' });
		const { run } = await runAgent({ providerId: openaiProvider, outputSchema: schema });
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'invalid_output', nodeId: 'agent' });
		expect(run.error?.message).toContain('Still Lyon');
	});
});

describe('tools needing approval', () => {
	const tools = [{ type: 'builtin', name: 'current_time', requiresApproval: true }];

	async function startWaiting() {
		fake.script({ kind: 'reply', toolCalls: [{ name: 'current_time', arguments: {} }] });
		const workflowId = await engine.publish(agentWorkflow({ providerId: openaiProvider, tools }));
		const started = await engine.start(workflowId, { question: 'Time?' });
		await engine.waitFor(started.id, ['waiting']);
		const [approval] = await waitUntil(
			async () => {
				const list = await listApprovals(
					engine.ctx,
					engine.owner.principal,
					engine.workspaceId,
					'pending'
				);
				const mine = list.filter((entry) => entry.runId === started.id);
				return mine.length > 0 ? mine : null;
			},
			{ what: 'the tool call approval', baseMs: 10_000 }
		);
		expect(approval?.title).toBe('An agent wants to call current_time');
		return { runId: started.id, approvalId: approval?.id as string };
	}

	it('runs the tool once approved', async () => {
		const { runId, approvalId } = await startWaiting();
		fake.script({ kind: 'reply', text: 'Done.' });
		await decideApproval(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			approvalId,
			{ approved: true, comment: '' },
			meta
		);
		const run = await engine.waitFor(runId);
		expect(run.status).toBe('succeeded');
		const call = (await childrenOf(runId)).find((step) => step.path === 't0.c0');
		expect(call?.output).toMatchObject({ result: { timeZone: 'UTC' } });
	});

	it('gives a denial and its reason back to the model', async () => {
		const { runId, approvalId } = await startWaiting();
		const before = fake.requests.length;
		fake.script({ kind: 'reply', text: 'I may not look at the clock.' });
		await decideApproval(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			approvalId,
			{ approved: false, comment: 'Not now' },
			meta
		);
		const run = await engine.waitFor(runId);
		expect(run.status).toBe('succeeded');
		expect(run.output).toBe('I may not look at the clock.');
		expect(JSON.stringify(requestsSince(before)[0]?.body)).toContain('Not now');
	});
});

describe('budgets', () => {
	it('stops at the turn limit before asking for another turn', async () => {
		const before = fake.requests.length;
		fake.script({ kind: 'reply', toolCalls: [{ name: 'current_time', arguments: {} }] });
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [{ type: 'builtin', name: 'current_time' }],
			limits: { maxTurns: 1 }
		});
		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'budget_exceeded' });
		expect(run.error?.message).toContain('turn limit is 1');
		expect(requestsSince(before)).toHaveLength(1);
	});

	it("refuses a turn beyond the step's token limit without sending it", async () => {
		const before = fake.requests.length;
		fake.script({
			kind: 'reply',
			toolCalls: [{ name: 'current_time', arguments: {} }],
			usage: { inputTokens: 400, outputTokens: 200 }
		});
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [{ type: 'builtin', name: 'current_time' }],
			limits: { maxTokens: 500 }
		});
		expect(run.status).toBe('failed');
		expect(run.error?.message).toContain("this agent step's token limit is 500 tokens");
		expect(requestsSince(before)).toHaveLength(1);
	});

	it("refuses a turn beyond the run's cost budget, priced by the price table", async () => {
		await testDb.database.db.execute(sql`
			insert into model_prices (provider_kind, model, input_per_million, output_per_million)
			values ('anthropic', 'fake-model', 3, 15)
			on conflict (provider_kind, model) do update set input_per_million = 3, output_per_million = 15
		`);
		const before = fake.requests.length;
		fake.script({
			kind: 'reply',
			toolCalls: [{ name: 'current_time', arguments: {} }],
			usage: { inputTokens: 1_000_000, outputTokens: 0 }
		});
		const { run } = await runAgent(
			{ providerId: anthropicProvider, tools: [{ type: 'builtin', name: 'current_time' }] },
			{ budget: { maxCostUsd: 2 } }
		);
		expect(run.status).toBe('failed');
		expect(run.error?.message).toContain("the run's cost budget is $2.00");
		expect(requestsSince(before)).toHaveLength(1);
		const usage = await ledger(run.id);
		expect(usage[0]).toMatchObject({ priced: true });
		expect(Number(usage[0]?.cost_usd)).toBeCloseTo(3, 6);
		await testDb.database.db.execute(sql`delete from model_prices`);
	});

	it("refuses every model request once the workspace's monthly limit is spent", async () => {
		await testDb.database.db.execute(
			sql`update workspaces set monthly_token_limit = 1 where id = ${engine.workspaceId}`
		);
		try {
			const before = fake.requests.length;
			const { run } = await runAgent({ providerId: openaiProvider });
			expect(run.status).toBe('failed');
			expect(run.error?.message).toContain("the workspace's monthly token limit is 1 tokens");
			expect(requestsSince(before)).toHaveLength(0);
		} finally {
			await testDb.database.db.execute(
				sql`update workspaces set monthly_token_limit = null where id = ${engine.workspaceId}`
			);
		}
	});
	it('keeps counting what deleted runs spent against the monthly limit', async () => {
		const { db } = testDb.database;
		const month = async () =>
			rows<{ tokens: number; requests: number }>(
				await db.execute(sql`
					select tokens::float8 as tokens, requests from model_usage_months
					where workspace_id = ${engine.workspaceId}
						and month = date_trunc('month', now() at time zone 'utc')::date
				`)
			)[0];
		fake.script({ kind: 'reply', text: 'Spent.' });
		const { run } = await runAgent({ providerId: openaiProvider });
		expect(run.status).toBe('succeeded');
		const ledgerTotal = rows<{ tokens: number; requests: number }>(
			await db.execute(sql`
				select coalesce(sum(input_tokens + output_tokens), 0)::float8 as tokens, count(*)::int as requests
				from model_usage where workspace_id = ${engine.workspaceId}
					and created_at >= date_trunc('month', now() at time zone 'utc') at time zone 'utc'
			`)
		)[0];
		const spent = await month();
		expect(spent).toEqual(ledgerTotal);
		expect(spent?.tokens).toBeGreaterThan(0);
		await db.execute(sql`delete from runs where id = ${run.id}`);
		expect(await month()).toEqual(spent);
		await db.execute(
			sql`update workspaces set monthly_token_limit = ${spent?.tokens} where id = ${engine.workspaceId}`
		);
		try {
			const before = fake.requests.length;
			const again = await runAgent({ providerId: openaiProvider });
			expect(again.run.status).toBe('failed');
			expect(again.run.error?.message).toContain("the workspace's monthly token limit");
			expect(requestsSince(before)).toHaveLength(0);
		} finally {
			await db.execute(
				sql`update workspaces set monthly_token_limit = null where id = ${engine.workspaceId}`
			);
		}
	});
});

describe('safety', () => {
	it('cancelling a run aborts the model stream at once', async () => {
		const index = fake.requests.length;
		fake.script({ kind: 'reply', text: 'a'.repeat(200), chunkDelayMs: 200 });
		const workflowId = await engine.publish(agentWorkflow({ providerId: openaiProvider }));
		const started = await engine.start(workflowId, { question: 'Talk slowly' });
		await waitUntil(() => fake.requests.length > index, {
			what: 'the model request to start',
			baseMs: 10_000
		});
		await cancelRun(engine.ctx, engine.owner.principal, engine.workspaceId, started.id, meta);
		const closed = await fake.closedEarly(index);
		expect(closed.closedEarly).toBe(true);
		expect((await engine.waitFor(started.id)).status).toBe('cancelled');
	});

	it("streams the model's text to live viewers as it is written", async () => {
		const index = fake.requests.length;
		const answer = 'The tide comes in twice a day.';
		fake.script({ kind: 'reply', text: answer, chunkDelayMs: 60 });
		const workflowId = await engine.publish(agentWorkflow({ providerId: openaiProvider }));
		const started = await engine.start(workflowId, { question: 'Tides?' });
		const deltas: PublishedDelta[] = [];
		const unsubscribe = await engine.ctx.bus.subscribe(deltaChannel(started.id), (message) => {
			deltas.push(message as PublishedDelta);
		});
		try {
			await waitUntil(() => fake.requests.length > index, { what: 'the turn', baseMs: 10_000 });
			const run = await engine.waitFor(started.id);
			expect(run.output).toBe(answer);
			// Coalesced into a few messages, in order, each at its offset: together the answer.
			expect(deltas.length).toBeGreaterThan(1);
			expect(deltas.map((delta) => delta.text).join('')).toBe(answer);
			let offset = 0;
			for (const delta of deltas) {
				expect(delta.offset).toBe(offset);
				offset += delta.text.length;
			}
			const turn = (await childrenOf(run.id)).find((step) => step.path === 't0');
			expect(new Set(deltas.map((delta) => delta.stepId))).toEqual(new Set([turn?.id]));
		} finally {
			await unsubscribe();
		}
	});

	it('refuses a provider on a private address that is not allow-listed', async () => {
		const before = fake.requests.length;
		const { run } = await runAgent({ providerId: blockedProvider });
		expect(run.status).toBe('failed');
		expect(run.error?.code).toBe('model_blocked_address');
		expect(fake.requests.length).toBe(before);
	});

	it('keeps a credential a tool used out of the messages, the events and the steps', async () => {
		const credential = await createCredential(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			{ name: 'Echo token', kind: 'bearer', token: secret },
			meta
		);
		const before = fake.requests.length;
		fake.script(
			{ kind: 'reply', toolCalls: [{ name: 'http_request', arguments: { url: echoUrl } }] },
			{ kind: 'reply', text: 'The API answered.' }
		);
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [
				{
					type: 'builtin',
					name: 'http_request',
					requiresApproval: false,
					credentials: [{ host: '127.0.0.1', credentialId: credential.id }]
				}
			]
		});
		expect(run.status).toBe('succeeded');
		const call = (await childrenOf(run.id)).find((step) => step.path === 't0.c0');
		// The API got the token (it echoes it back) but what was recorded is scrubbed.
		expect(JSON.stringify(call?.output)).toContain('authorization');
		expect(JSON.stringify(call?.output)).not.toContain(secret);
		expect(JSON.stringify(requestsSince(before))).not.toContain(secret);
		const events = await testDb.database.db.execute(
			sql`select data from run_events where run_id = ${run.id}`
		);
		expect(JSON.stringify(rows(events))).not.toContain(secret);
		const steps = await runsDb.listSteps(testDb.database.db, run.id);
		expect(JSON.stringify(steps)).not.toContain(secret);
		expect(logLines.length).toBeGreaterThan(0);
		expect(logLines.join('')).not.toContain(secret);
		// Nor does the provider's API key show up in any log line.
		expect(logLines.join('')).not.toContain('sk-test-key');
	});
});

describe('the llm node', () => {
	const llmWorkflow = (config: Record<string, unknown>) => ({
		inputs: [{ name: 'topic', type: 'string', required: true }],
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'ask', kind: 'llm', config },
			{ id: 'done', kind: 'output' }
		],
		edges: [
			{ from: 'start', to: 'ask' },
			{ from: 'ask', to: 'done' }
		]
	});

	it('makes one request from its templates and records its usage', async () => {
		const before = fake.requests.length;
		fake.script({
			kind: 'reply',
			text: 'Tides follow the moon.',
			usage: { inputTokens: 9, outputTokens: 5 }
		});
		const workflowId = await engine.publish(
			llmWorkflow({
				providerId: anthropicProvider,
				system: 'Answer in one sentence.',
				prompt: 'Explain {{ input.topic }}.'
			})
		);
		const run = await engine.waitFor((await engine.start(workflowId, { topic: 'tides' })).id);
		expect(run.status).toBe('succeeded');
		expect(run.output).toBe('Tides follow the moon.');
		const [request] = requestsSince(before);
		expect(JSON.stringify(request?.body)).toContain('Explain tides.');
		expect(JSON.stringify(request?.body)).toContain('Answer in one sentence.');
		expect(await ledger(run.id)).toMatchObject([{ input_tokens: 9, output_tokens: 5 }]);
	});

	it('records both requests of a failed repair in the ledger', async () => {
		fake.script({ kind: 'reply', text: 'no' }, { kind: 'reply', text: 'still no' });
		const workflowId = await engine.publish(
			llmWorkflow({
				providerId: openaiProvider,
				prompt: 'Give {{ input.topic }} as JSON.',
				outputSchema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] }
			})
		);
		const run = await engine.waitFor((await engine.start(workflowId, { topic: 'x' })).id);
		expect(run.error).toMatchObject({ code: 'invalid_output' });
		expect(await ledger(run.id)).toHaveLength(2);
	});
});

describe('agents in context', () => {
	it('runs a saved agent by id, each map item its own conversation', async () => {
		const inserted = await testDb.database.db.execute(sql`
			insert into agents (workspace_id, name, instructions, provider_id, tools, limits)
			values (${engine.workspaceId}, ${`Echo ${Math.random()}`}, 'Repeat the item.', ${openaiProvider},
				'[]'::jsonb, '{"maxTurns": 3}'::jsonb)
			returning id
		`);
		const agentId = rows<{ id: string }>(inserted)[0]?.id;
		fake.script({ kind: 'reply', text: 'one' }, { kind: 'reply', text: 'two' });
		const workflowId = await engine.publish({
			nodes: [
				{ id: 'start', kind: 'input' },
				{
					id: 'each',
					kind: 'map',
					config: {
						items: '["a", "b"]',
						concurrency: 1,
						node: { kind: 'agent', config: { agentId, prompt: 'Item {{ item }}' } }
					}
				},
				{ id: 'done', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'each' },
				{ from: 'each', to: 'done' }
			]
		});
		const run = await engine.waitFor((await engine.start(workflowId)).id);
		expect(run.status).toBe('succeeded');
		expect(run.output).toEqual(['one', 'two']);
		const children = await childrenOf(run.id);
		expect(children.map((step) => [step.iteration, step.path])).toEqual([
			[0, 't0'],
			[1, 't0']
		]);
	});

	it('calls a published workflow as a tool through a child run', async () => {
		const doubler = await engine.publish({
			inputs: [{ name: 'n', type: 'number', required: true }],
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'twice', kind: 'transform', config: { expression: 'n * 2' } },
				{ id: 'done', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'twice' },
				{ from: 'twice', to: 'done' }
			]
		});
		const before = fake.requests.length;
		fake.script(
			{ kind: 'reply', toolCalls: [{ name: 'double', arguments: { n: 21 } }] },
			{ kind: 'reply', text: '42' }
		);
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [{ type: 'workflow', workflowId: doubler, name: 'double', description: 'Doubles n.' }]
		});
		expect(run.output).toBe('42');
		const call = (await childrenOf(run.id)).find((step) => step.path === 't0.c0');
		expect(call?.output).toMatchObject({ name: 'double', result: 42 });
		// The model saw the workflow's inputs as the tool's input schema.
		const declared = JSON.stringify(requestsSince(before)[0]?.body);
		expect(declared).toContain('Doubles n.');
		expect(declared).toContain('"required":["n"]');
		const child = await testDb.database.db.execute(
			sql`select status, trigger from runs where parent_step_id = ${call?.id}`
		);
		expect(rows(child)).toEqual([{ status: 'succeeded', trigger: 'workflow' }]);
	});

	it("calls one of the workspace's own tools, run in the sandbox", async () => {
		const tool = await createTool(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			{
				name: 'shout',
				description: 'Shouts the text.',
				inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
				source: 'return input.text.toUpperCase();',
				risk: 'read'
			},
			meta
		);
		fake.script(
			{ kind: 'reply', toolCalls: [{ name: 'shout', arguments: { text: 'hi' } }] },
			{ kind: 'reply', text: 'HI' }
		);
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [{ type: 'custom', toolId: tool.id }]
		});
		expect(run.output).toBe('HI');
		const call = (await childrenOf(run.id)).find((step) => step.path === 't0.c0');
		expect(call?.output).toMatchObject({ name: 'shout', result: 'HI' });
	});

	it('refuses a turn that asks for more tool calls than an agent runs', async () => {
		fake.script({
			kind: 'reply',
			toolCalls: Array.from({ length: 40 }, () => ({ name: 'current_time', arguments: {} }))
		});
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [{ type: 'builtin', name: 'current_time' }]
		});
		expect(run.error).toMatchObject({ code: 'too_many_tool_calls' });
		expect((await childrenOf(run.id)).filter((step) => step.kind === 'agent.tool')).toHaveLength(0);
	});

	it('gives the model an error for a tool it was not given', async () => {
		const before = fake.requests.length;
		fake.script(
			{ kind: 'reply', toolCalls: [{ name: 'rm_rf', arguments: {} }] },
			{ kind: 'reply', text: 'I cannot do that.' }
		);
		const { run } = await runAgent({ providerId: openaiProvider });
		expect(run.output).toBe('I cannot do that.');
		expect(JSON.stringify(requestsSince(before)[1]?.body)).toContain('There is no tool named');
	});

	it('decides its next turn in the commit of the tool call that finished last', async () => {
		fake.script(
			{ kind: 'reply', toolCalls: [{ name: 'current_time', arguments: {} }] },
			{ kind: 'reply', text: 'Noon.' }
		);
		const { run } = await runAgent({
			providerId: openaiProvider,
			tools: [{ type: 'builtin', name: 'current_time' }]
		});
		expect(run.status).toBe('succeeded');
		// Each event row is written once, by the transaction of the commit it records.
		const events = rows<{ tx: string; type: string; path: string | null; resumed: boolean | null }>(
			await testDb.database.db.execute(sql`
				select xmin::text as tx, type, data->>'path' as path, (data->>'resumed')::boolean as resumed
				from run_events where run_id = ${run.id} and node_id = 'agent' order by seq
			`)
		);
		const txOf = (type: string, path: string | null, resumed?: boolean) => {
			const found = events.filter(
				(event) =>
					event.type === type &&
					event.path === path &&
					(resumed === undefined || event.resumed === resumed)
			);
			expect(found, `${type} of ${path ?? 'the agent step'}`).toHaveLength(1);
			return found[0]?.tx;
		};
		// The tool call's result, the agent woken, parked again and turn 1 started: one commit.
		const toolCommit = txOf('step.succeeded', 't0.c0');
		const resumed = events.filter((event) => event.type === 'step.started' && event.resumed);
		expect(resumed.map((event) => event.tx)).toEqual([toolCommit, txOf('step.succeeded', 't1')]);
		expect(txOf('step.started', 't1')).toBe(toolCommit);
		// Turn 1's answer and the agent step's success: one commit too.
		expect(txOf('step.succeeded', null)).toBe(txOf('step.succeeded', 't1'));
	});
});

describe('tool calls act for the run owner', () => {
	it("refuses a tool call once the run's owner may no longer run workflows", async () => {
		const owner = engine.owner.principal.user.id;
		const index = fake.requests.length;
		fake.script(
			{
				kind: 'reply',
				text: 'Let me check the time.',
				toolCalls: [{ name: 'current_time', arguments: {} }],
				chunkDelayMs: 100
			},
			{ kind: 'reply', text: 'I was not allowed to.' }
		);
		const workflowId = await engine.publish(
			agentWorkflow({
				providerId: openaiProvider,
				tools: [{ type: 'builtin', name: 'current_time' }]
			})
		);
		const started = await engine.start(workflowId, { question: 'Time?' });
		await waitUntil(() => fake.requests.length > index, { what: 'the first turn', baseMs: 10_000 });
		// Demoted while the model is still answering: the tool call that follows is refused.
		await testDb.database.db.execute(sql`
			update memberships set role = 'viewer' where user_id = ${owner} and workspace_id = ${engine.workspaceId}
		`);
		try {
			const run = await engine.waitFor(started.id);
			expect(run.output).toBe('I was not allowed to.');
			const call = (await childrenOf(run.id)).find((step) => step.path === 't0.c0');
			expect(call?.status).toBe('failed');
			expect(call?.error?.message).toContain('may no longer run workflows');
			expect(JSON.stringify(fake.requests.at(-1)?.body)).toContain('may no longer run workflows');
		} finally {
			await testDb.database.db.execute(sql`
				update memberships set role = 'owner' where user_id = ${owner} and workspace_id = ${engine.workspaceId}
			`);
		}
	});
});

describe('references to providers and agents', () => {
	it("refuses a definition naming another workspace's provider or an unknown agent, at the node", async () => {
		const elsewhere = await testDb.database.db.execute(sql`
			insert into workspaces (name, slug) values ('Elsewhere', ${`elsewhere-${Date.now()}`}) returning id
		`);
		const otherWorkspace = rows<{ id: string }>(elsewhere)[0]?.id as string;
		const theirs = await insertProvider(otherWorkspace, {
			name: 'Theirs',
			kind: 'openai',
			baseUrl: `${fake.url}/v1`,
			credentialId: null
		});
		const error = await engine
			.publish({
				nodes: [
					{ id: 'start', kind: 'input' },
					{ id: 'ask', kind: 'llm', config: { providerId: theirs, prompt: 'Hi' } },
					{
						id: 'each',
						kind: 'map',
						config: {
							items: '[1]',
							node: { kind: 'agent', config: { agentId: '00000000-0000-4000-8000-000000000000' } }
						}
					}
				],
				edges: [
					{ from: 'start', to: 'ask' },
					{ from: 'ask', to: 'each' }
				]
			})
			.catch((caught: unknown) => caught);
		expect(JSON.parse(JSON.stringify(error)).problems).toEqual([
			{
				nodeId: 'ask',
				path: 'nodes[1].config.providerId',
				message: 'No model provider with this id in this workspace.'
			},
			{
				nodeId: 'each',
				path: 'nodes[2].config.node.config.agentId',
				message: 'No saved agent with this id in this workspace.'
			}
		]);
	});
});
