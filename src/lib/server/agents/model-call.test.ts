import type { ModelMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../../../../tests/helpers/fake-llm.ts';
import { createGuardedFetch } from '../outbound/guarded-fetch.ts';
import { createGuardedHttp, type GuardedHttp } from '../outbound/guarded-http.ts';
import { callModelTurn, ModelCallError, type ModelTurnInput } from './model-call.ts';
import {
	createLanguageModel,
	listModels,
	testConnection,
	type ProviderConfig
} from './providers.ts';

const apiKey = 'sk-test-secret-4242';
let fake: FakeLlm;
let http: GuardedHttp;

beforeAll(async () => {
	fake = await startFakeLlm({ apiKey, models: ['gpt-test', 'claude-sonnet-4-5'] });
	// The fake runs on 127.0.0.1, a blocked range: allow-listed here, as an operator would.
	http = createGuardedHttp({ allow: [{ host: '127.0.0.1', port: fake.port }] });
});

afterAll(async () => {
	http.close();
	await fake.close();
});

const access = (key: string | null = apiKey) => ({ apiKey: key, fetch: createGuardedFetch(http) });
const fast = { baseDelayMs: 10, maxDelayMs: 50 };

const kinds: [
	ProviderConfig['kind'],
	string,
	string,
	(request: FakeLlm['requests'][number]) => unknown
][] = [
	['openai', 'gpt-test', '/v1/chat/completions', (request) => request.headers.authorization],
	[
		'openai-compatible',
		'local-model',
		'/v1/chat/completions',
		(request) => request.headers.authorization
	],
	['anthropic', 'claude-sonnet-4-5', '/v1/messages', (request) => request.headers['x-api-key']]
];

const hello: ModelMessage[] = [{ role: 'user', content: 'Hello' }];

async function failure(promise: Promise<unknown>): Promise<ModelCallError> {
	const error = await promise.then(
		() => null,
		(caught: unknown) => caught
	);
	expect(error).toBeInstanceOf(ModelCallError);
	return error as ModelCallError;
}

describe.each(kinds)('a %s model turn', (kind, model, path, sentKey) => {
	// Built when a test runs: the fake server's port is known only then.
	const provider = () => ({ kind, baseUrl: `${fake.url}/v1`, model }) as ProviderConfig;
	const turn = (overrides: Partial<ModelTurnInput> = {}) =>
		callModelTurn({
			model: createLanguageModel(provider(), access()),
			messages: hello,
			limits: fast,
			...overrides
		});

	it('streams the text in deltas and reports usage with cached tokens', async () => {
		fake.script({
			kind: 'reply',
			text: 'Hello from the model.',
			usage: { inputTokens: 120, outputTokens: 6, cachedInputTokens: 100 }
		});
		const deltas: string[] = [];
		const result = await turn({ system: 'Be brief.', onTextDelta: (delta) => deltas.push(delta) });
		expect(deltas.length).toBeGreaterThan(1);
		expect(deltas.join('')).toBe('Hello from the model.');
		expect(result).toMatchObject({
			text: 'Hello from the model.',
			toolCalls: [],
			usage: { inputTokens: 120, outputTokens: 6, cachedInputTokens: 100 },
			finishReason: 'stop',
			attempts: 1
		});
		const request = fake.requests.at(-1);
		expect(request?.path).toBe(path);
		expect(request?.body).toMatchObject({ stream: true, model });
		expect(sentKey(request!)).toBe(kind === 'anthropic' ? apiKey : `Bearer ${apiKey}`);
		expect(JSON.stringify(request?.body)).toContain('Be brief.');
		// Plain JSON, ready for a jsonb column and the next turn.
		expect(JSON.parse(JSON.stringify(result.responseMessages))).toEqual(result.responseMessages);
		expect(result.responseMessages[0]).toMatchObject({ role: 'assistant' });
	});

	it('returns two tool calls from one turn, and takes their results back next turn', async () => {
		fake.script({
			kind: 'reply',
			toolCalls: [
				{ name: 'lookup', arguments: { city: 'Paris' } },
				{ name: 'lookup', arguments: { city: 'Oslo' } }
			]
		});
		const tools = [
			{
				name: 'lookup',
				description: 'Looks a city up',
				inputSchema: {
					type: 'object' as const,
					properties: { city: { type: 'string' as const } },
					required: ['city']
				}
			}
		];
		const first = await turn({ tools });
		expect(first.finishReason).toBe('tool-calls');
		expect(first.toolCalls.map(({ name, input }) => ({ name, input }))).toEqual([
			{ name: 'lookup', input: { city: 'Paris' } },
			{ name: 'lookup', input: { city: 'Oslo' } }
		]);
		expect(JSON.stringify(fake.requests.at(-1)?.body)).toContain('Looks a city up');

		fake.script({ kind: 'reply', text: 'Both are nice.' });
		const results: ModelMessage = {
			role: 'tool',
			content: first.toolCalls.map((call) => ({
				type: 'tool-result' as const,
				toolCallId: call.id,
				toolName: call.name,
				output: { type: 'json' as const, value: { temperature: 20 } }
			}))
		};
		const stored = JSON.parse(
			JSON.stringify([...hello, ...first.responseMessages, results])
		) as ModelMessage[];
		const second = await turn({ tools, messages: stored });
		expect(second.text).toBe('Both are nice.');
		const sent = JSON.stringify(fake.requests.at(-1)?.body);
		for (const call of first.toolCalls) expect(sent).toContain(call.id);
		expect(sent).toContain('temperature');
	});

	it('asks for structured output with the JSON schema', async () => {
		fake.script({ kind: 'reply', text: '{"answer":42}' });
		const schema = {
			type: 'object' as const,
			properties: { answer: { type: 'number' as const } },
			required: ['answer'],
			additionalProperties: false
		};
		const result = await turn({ outputSchema: schema });
		expect(JSON.parse(result.text)).toEqual({ answer: 42 });
		const body = fake.requests.at(-1)?.body as Record<string, unknown>;
		const sentSchema =
			kind === 'anthropic'
				? (body.output_config as { format: { type: string; schema: unknown } }).format
				: (body.response_format as { type: string; json_schema: { schema: unknown } });
		expect(sentSchema.type).toBe('json_schema');
		expect(JSON.stringify(sentSchema)).toContain('"answer"');
	});

	it('retries a 429 after its Retry-After, then succeeds', async () => {
		fake.script({ kind: 'error', status: 429, retryAfter: '0' }, { kind: 'reply', text: 'ok' });
		const before = fake.count(path);
		const result = await turn();
		expect(result).toMatchObject({ text: 'ok', attempts: 2 });
		expect(fake.count(path) - before).toBe(2);
	});

	it('retries a 500, and gives up after the attempts allowed', async () => {
		fake.script({ kind: 'error', status: 500 }, { kind: 'reply', text: 'recovered' });
		expect((await turn()).text).toBe('recovered');

		fake.script({ kind: 'error', status: 503 }, { kind: 'error', status: 502 });
		const before = fake.count(path);
		const error = await failure(turn({ limits: { ...fast, maxAttempts: 2 } }));
		expect(error).toMatchObject({ code: 'provider_error', retryable: true });
		expect(fake.count(path) - before).toBe(2);
	});

	it('reports a malformed stream as invalid_response, without retrying', async () => {
		fake.script({ kind: 'malformed' });
		const before = fake.count(path);
		expect((await failure(turn())).code).toBe('invalid_response');
		expect(fake.count(path) - before).toBe(1);
	});

	it('closes the connection at once when the signal fires mid-stream', async () => {
		fake.script({ kind: 'reply', text: 'one two three four five', chunkDelayMs: 60_000 });
		const index = fake.requests.length;
		const controller = new AbortController();
		const pending = turn({ signal: controller.signal, onTextDelta: () => controller.abort() });
		expect((await failure(pending)).code).toBe('aborted');
		expect((await fake.closedEarly(index)).closedEarly).toBe(true);
	});

	it('keeps to a concurrency limit of 1 across concurrent calls', async () => {
		fake.maxConcurrent = 0;
		fake.script(
			{ kind: 'reply', text: 'first answer', chunkDelayMs: 20 },
			{ kind: 'reply', text: 'second answer', chunkDelayMs: 20 }
		);
		const limits = { ...fast, concurrency: 1, concurrencyKey: `limit-${kind}` };
		const results = await Promise.all([turn({ limits }), turn({ limits })]);
		expect(results.map((result) => result.text).sort()).toEqual(['first answer', 'second answer']);
		expect(fake.maxConcurrent).toBe(1);
	});

	it('maps a refused key to auth_failed, with the key nowhere in the message', async () => {
		const wrongKey = `${apiKey}-wrong`;
		const model = createLanguageModel(provider(), {
			apiKey: wrongKey,
			fetch: createGuardedFetch(http)
		});
		const error = await failure(callModelTurn({ model, messages: hello, limits: fast }));
		expect(error).toMatchObject({ code: 'auth_failed', retryable: false });
		expect(error.message).not.toContain(wrongKey);
		expect(error.message).not.toContain(apiKey);
	});

	it('is refused on 127.0.0.1 unless the address is allow-listed', async () => {
		const closed = createGuardedHttp();
		const model = createLanguageModel(provider(), { apiKey, fetch: createGuardedFetch(closed) });
		const before = fake.requests.length;
		const error = await failure(callModelTurn({ model, messages: hello, limits: fast }));
		expect(error.code).toBe('blocked_address');
		expect(fake.requests.length).toBe(before);
		closed.close();
	});

	it('lists the models and tests the connection', async () => {
		expect(await listModels(provider(), access())).toEqual(['gpt-test', 'claude-sonnet-4-5']);
		expect(await testConnection(provider(), access())).toMatchObject({
			ok: true,
			modelListed: model !== 'local-model'
		});
		const refused = await testConnection(provider(), access('sk-other-key-0000'));
		expect(refused).toMatchObject({ ok: false, code: 'auth_failed' });
		expect(JSON.stringify(refused)).not.toContain('sk-other-key-0000');
	});
});

describe('a model turn', () => {
	it('times out a silent provider', async () => {
		fake.script({ kind: 'hang' });
		const model = createLanguageModel(
			{ kind: 'openai', baseUrl: `${fake.url}/v1`, model: 'gpt-test' },
			access()
		);
		const error = await failure(
			callModelTurn({ model, messages: hello, limits: { ...fast, timeoutMs: 200, maxAttempts: 1 } })
		);
		expect(error).toMatchObject({ code: 'timeout', retryable: true });
	});

	it('needs an API key for OpenAI and Anthropic', () => {
		expect(() =>
			createLanguageModel({ kind: 'anthropic', baseUrl: null, model: 'claude' }, access(null))
		).toThrow(ModelCallError);
	});
});
