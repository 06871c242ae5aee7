import type { ModelMessage } from 'ai';
import { describe, expect, it } from 'vitest';
import { callModelTurn, ModelCallError } from './model-call.ts';
import { createLanguageModel, listModels, type ProviderConfig } from './providers.ts';

const provider: ProviderConfig = {
	kind: 'scripted',
	baseUrl: null,
	model: 'scripted-test',
	replies: [
		{
			toolCalls: [{ name: 'search', input: { query: 'awe' } }],
			usage: { inputTokens: 10, outputTokens: 3 }
		},
		{ text: 'Found it: the engine.', usage: { inputTokens: 25, outputTokens: 5 } }
	]
};
// No network: the fetch must never be called.
const access = { apiKey: null, fetch: () => Promise.reject(new Error('no network in scripted')) };
const model = createLanguageModel(provider, access);
const tools = [
	{
		name: 'search',
		description: 'Searches',
		inputSchema: { type: 'object' as const, properties: {} }
	}
];
const question: ModelMessage[] = [{ role: 'user', content: 'What is AWE?' }];

describe('the scripted model', () => {
	it('answers each turn from its list, the same way every time a turn is replayed', async () => {
		const first = await callModelTurn({ model, messages: question, tools });
		expect(first).toMatchObject({
			text: '',
			toolCalls: [{ id: 'scripted-1-1', name: 'search', input: { query: 'awe' } }],
			finishReason: 'tool-calls',
			usage: { inputTokens: 10, outputTokens: 3, cachedInputTokens: 0 }
		});
		expect(await callModelTurn({ model, messages: question, tools })).toEqual({
			...first,
			durationMs: expect.any(Number) as number
		});

		const conversation: ModelMessage[] = [
			...question,
			...first.responseMessages,
			{
				role: 'tool',
				content: [
					{
						type: 'tool-result',
						toolCallId: 'scripted-1-1',
						toolName: 'search',
						output: { type: 'text', value: 'AWE is a workflow engine.' }
					}
				]
			}
		];
		const deltas: string[] = [];
		const second = await callModelTurn({
			model,
			messages: conversation,
			tools,
			onTextDelta: (delta) => deltas.push(delta)
		});
		expect(deltas).toEqual(['Found ', 'it: ', 'the ', 'engine.']);
		expect(second).toMatchObject({ text: 'Found it: the engine.', finishReason: 'stop' });
	});

	it('fails as invalid_response past the end of its list', async () => {
		const done: ModelMessage[] = [
			...question,
			{ role: 'assistant', content: 'one' },
			{ role: 'user', content: 'more' },
			{ role: 'assistant', content: 'two' },
			{ role: 'user', content: 'more' }
		];
		const error = await callModelTurn({ model, messages: done }).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(ModelCallError);
		expect(error).toMatchObject({ code: 'invalid_response', retryable: false });
	});

	it('stops when the signal fires', async () => {
		const controller = new AbortController();
		controller.abort();
		const error = await callModelTurn({
			model,
			messages: question,
			signal: controller.signal
		}).catch((caught: unknown) => caught);
		expect(error).toMatchObject({ code: 'aborted' });
	});

	it('lists its one model', async () => {
		expect(await listModels(provider, access)).toEqual(['scripted-test']);
	});
});
