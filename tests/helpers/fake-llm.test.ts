import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, jsonSchema, streamText, tool, type LanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch } from '../../src/lib/server/outbound/guarded-fetch.ts';
import { createGuardedHttp } from '../../src/lib/server/outbound/guarded-http.ts';
import { startFakeLlm, type FakeLlm } from './fake-llm.ts';

// The fake server against the real provider packages: what they send, it parses; what it answers,
// they read as text, tool calls and usage.

let fake: FakeLlm;

beforeAll(async () => {
	fake = await startFakeLlm({ apiKey: 'test-key' });
});

afterAll(async () => {
	await fake.close();
});

const providers: [string, string, () => LanguageModel][] = [
	[
		'openai',
		'/v1/chat/completions',
		() => createOpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'test-key' }).chat('gpt-test')
	],
	[
		'openai-compatible',
		'/v1/chat/completions',
		() =>
			createOpenAICompatible({
				name: 'local',
				baseURL: `${fake.url}/v1`,
				apiKey: 'test-key',
				includeUsage: true
			}).chatModel('local-model')
	],
	[
		'anthropic',
		'/v1/messages',
		() => createAnthropic({ baseURL: `${fake.url}/v1`, apiKey: 'test-key' })('claude-sonnet-4-5')
	]
];

const weather = tool({
	description: 'The weather in a city',
	inputSchema: jsonSchema<{ city: string }>({
		type: 'object',
		properties: { city: { type: 'string' } },
		required: ['city']
	})
});

describe.each(providers)('the fake server speaking %s', (_name, path, model) => {
	it('streams text in pieces, with usage and cached tokens', async () => {
		fake.script({
			kind: 'reply',
			text: 'Hello there, traveller.',
			usage: { inputTokens: 20, outputTokens: 5, cachedInputTokens: 8 }
		});
		const before = fake.count(path);
		const result = streamText({ model: model(), prompt: 'Hi', maxRetries: 0 });
		const deltas: string[] = [];
		for await (const delta of result.textStream) deltas.push(delta);
		expect(deltas.length).toBeGreaterThan(1);
		expect(deltas.join('')).toBe('Hello there, traveller.');
		const usage = await result.usage;
		expect(usage).toMatchObject({
			inputTokens: 20,
			outputTokens: 5,
			inputTokenDetails: { cacheReadTokens: 8 }
		});
		expect(fake.count(path) - before).toBe(1);
		expect(fake.requests.at(-1)?.body).toMatchObject({ stream: true });
	});

	it('streams two tool calls in one turn', async () => {
		fake.script({
			kind: 'reply',
			toolCalls: [
				{ name: 'weather', arguments: { city: 'Paris' } },
				{ name: 'weather', arguments: { city: 'Oslo' } }
			],
			usage: { inputTokens: 30, outputTokens: 12 }
		});
		const result = streamText({
			model: model(),
			prompt: 'Weather?',
			tools: { weather },
			maxRetries: 0
		});
		const calls = await result.toolCalls;
		expect(calls.map((call) => [call.toolName, call.input])).toEqual([
			['weather', { city: 'Paris' }],
			['weather', { city: 'Oslo' }]
		]);
		expect(await result.finishReason).toBe('tool-calls');
	});

	it('answers without streaming', async () => {
		fake.script({
			kind: 'reply',
			text: 'Plain answer.',
			toolCalls: [{ name: 'weather', arguments: { city: 'Rome' } }],
			usage: { inputTokens: 4, outputTokens: 3, cachedInputTokens: 1 }
		});
		const result = await generateText({
			model: model(),
			prompt: 'Hi',
			tools: { weather },
			maxRetries: 0
		});
		expect(result.text).toBe('Plain answer.');
		expect(result.toolCalls.map((call) => call.input)).toEqual([{ city: 'Rome' }]);
		expect(result.usage).toMatchObject({ inputTokens: 4, outputTokens: 3 });
	});

	it('refuses a wrong API key with 401', async () => {
		const before = fake.requests.length;
		const wrong =
			path === '/v1/messages'
				? createAnthropic({ baseURL: `${fake.url}/v1`, apiKey: 'nope' })('claude-sonnet-4-5')
				: createOpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'nope' }).chat('gpt-test');
		const error = await generateText({ model: wrong, prompt: 'Hi', maxRetries: 0 }).then(
			() => null,
			(caught: unknown) => caught
		);
		expect(error).toMatchObject({ statusCode: 401 });
		expect(fake.requests.length - before).toBe(1);
	});
});

describe('the fake server', () => {
	it('serves scripted faults in order and records them', async () => {
		fake.script(
			{ kind: 'error', status: 429, retryAfter: '0' },
			{ kind: 'reply', text: 'after the retry' }
		);
		const before = fake.count('/v1/chat/completions');
		const model = createOpenAI({ baseURL: `${fake.url}/v1`, apiKey: 'test-key' }).chat('gpt-test');
		const result = await generateText({ model, prompt: 'Hi', maxRetries: 1 });
		expect(result.text).toBe('after the retry');
		expect(fake.count('/v1/chat/completions') - before).toBe(2);
		expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer test-key');
	});

	it('lists models in each vendor format', async () => {
		const openai = await fetch(`${fake.url}/v1/models`, {
			headers: { authorization: 'Bearer test-key' }
		});
		expect(await openai.json()).toMatchObject({ object: 'list', data: [{ id: 'fake-model' }] });
		const anthropic = await fetch(`${fake.url}/v1/models`, {
			headers: { 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' }
		});
		expect(await anthropic.json()).toMatchObject({
			data: [{ type: 'model', id: 'fake-model' }],
			has_more: false
		});
	});

	it('sees a client close a slow stream early', async () => {
		fake.script({ kind: 'reply', text: 'one two three four', chunkDelayMs: 60_000 });
		const index = fake.requests.length;
		const controller = new AbortController();
		const http = createGuardedHttp({ allow: [{ host: '127.0.0.1', port: fake.port }] });
		const model = createOpenAI({
			baseURL: `${fake.url}/v1`,
			apiKey: 'test-key',
			fetch: createGuardedFetch(http)
		}).chat('gpt-test');
		const result = streamText({
			model,
			prompt: 'Hi',
			abortSignal: controller.signal,
			maxRetries: 0
		});
		const reader = result.textStream.getReader();
		await reader.read();
		controller.abort();
		const closed = await fake.closedEarly(index);
		expect(closed.closedEarly).toBe(true);
		http.close();
	});
});
