import type { ProviderKind } from '$lib/schemas/agents';

export const providerKindLabels: Record<ProviderKind, string> = {
	openai: 'OpenAI',
	'openai-compatible': 'OpenAI-compatible',
	anthropic: 'Anthropic',
	scripted: 'Scripted — fixed replies for tests'
};

/** What each kind is for, for the form's help text. */
export const providerKindHelp: Record<ProviderKind, string> = {
	openai: 'OpenAI’s API with an OpenAI credential.',
	'openai-compatible':
		'Any server that speaks OpenAI’s API: Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, Groq… Give its base URL; a key only if it asks for one.',
	anthropic: 'Anthropic’s API with an Anthropic credential.',
	scripted:
		'Answers from a fixed list of replies, the n-th reply for the n-th turn, without calling any model: for tests and demos.'
};

/** A starting script for a new scripted provider. */
export const sampleScript = JSON.stringify(
	[{ text: 'Hello! This is a scripted reply.', usage: { inputTokens: 10, outputTokens: 8 } }],
	null,
	2
);
