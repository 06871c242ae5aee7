import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModelV4 } from '@ai-sdk/provider';
import { z } from 'zod';
import type { FetchFunction } from '../outbound/guarded-fetch.ts';
import { ModelCallError, modelCallError } from './model-call-error.ts';
import { createScriptedModel, type ScriptedReply } from './scripted-model.ts';

export type ProviderKind = 'openai' | 'openai-compatible' | 'anthropic' | 'scripted';

/** A configured model: which API, where (null: the vendor's own), and which model. */
export type ProviderConfig =
	| { kind: 'openai' | 'anthropic' | 'openai-compatible'; baseUrl: string | null; model: string }
	| { kind: 'scripted'; baseUrl: null; model: string; replies: ScriptedReply[] };

export interface ProviderAccess {
	/** Sent as the vendor expects (Bearer or x-api-key); never part of an error message. */
	apiKey: string | null;
	/** The guarded fetch: every provider request goes through it. */
	fetch: FetchFunction;
}

/** A language model ready for callModelTurn, with what the call needs to know about it. */
export interface ProviderModel {
	languageModel: LanguageModelV4;
	provider: ProviderConfig;
	/** Removes the API key from a text about a failure. */
	redact(text: string): string;
}

// Explicit, so that OPENAI_BASE_URL or ANTHROPIC_BASE_URL in AWE's own environment changes nothing.
const vendorBaseUrls = {
	openai: 'https://api.openai.com/v1',
	anthropic: 'https://api.anthropic.com/v1'
};
const anthropicVersion = '2023-06-01';

/**
 * The AI SDK model for a provider. OpenAI goes through Chat Completions (`openai.chat`), not the
 * Responses API the SDK defaults to: it is stateless, so the stored conversation is the whole
 * truth when a turn is replayed, and the same wire format serves the compatible servers.
 */
export function createLanguageModel(
	provider: ProviderConfig,
	{ apiKey, fetch }: ProviderAccess
): ProviderModel {
	const redact = redactor(apiKey);
	const model = (languageModel: LanguageModelV4) => ({ languageModel, provider, redact });
	switch (provider.kind) {
		case 'scripted':
			return model(createScriptedModel(provider.model, provider.replies));
		case 'openai':
			return model(
				createOpenAI({
					baseURL: baseUrlOf(provider),
					apiKey: requiredKey(provider, apiKey),
					fetch
				}).chat(provider.model)
			);
		case 'anthropic':
			return model(
				createAnthropic({
					baseURL: baseUrlOf(provider),
					apiKey: requiredKey(provider, apiKey),
					fetch
				})(provider.model)
			);
		case 'openai-compatible':
			return model(
				createOpenAICompatible({
					name: 'openai-compatible',
					baseURL: baseUrlOf(provider),
					apiKey: apiKey ?? undefined,
					fetch,
					includeUsage: true,
					supportsStructuredOutputs: true
				}).chatModel(provider.model)
			);
	}
}

const modelList = z.object({ data: z.array(z.object({ id: z.string() })) });

/** The model names the provider offers, from its GET /models. */
export async function listModels(
	provider: ProviderConfig,
	{ apiKey, fetch }: ProviderAccess,
	signal?: AbortSignal
): Promise<string[]> {
	if (provider.kind === 'scripted') return [provider.model];
	const headers: Record<string, string> = {};
	if (provider.kind === 'anthropic') {
		headers['x-api-key'] = requiredKey(provider, apiKey);
		headers['anthropic-version'] = anthropicVersion;
	} else if (apiKey !== null) {
		headers.authorization = `Bearer ${apiKey}`;
	} else if (provider.kind === 'openai') {
		requiredKey(provider, apiKey);
	}
	const redact = redactor(apiKey);
	let response: Response;
	let body: unknown;
	try {
		response = await fetch(`${baseUrlOf(provider)}/models`, { headers, signal });
		body = response.ok ? await response.json() : await response.text();
	} catch (error) {
		throw modelCallError(error, redact, signal);
	}
	if (!response.ok) {
		const message = errorMessageOf(body);
		throw modelCallError({ statusCode: response.status, message }, redact, signal);
	}
	const parsed = modelList.safeParse(body);
	if (!parsed.success) {
		throw new ModelCallError('invalid_response', 'The model list is not in the expected format.');
	}
	return parsed.data.data.map(({ id }) => id);
}

export type ConnectionTest =
	| { ok: true; models: string[]; modelListed: boolean }
	| { ok: false; code: ModelCallError['code']; message: string };

/** Whether the provider answers with these credentials, and whether it offers the model. */
export async function testConnection(
	provider: ProviderConfig,
	access: ProviderAccess,
	signal?: AbortSignal
): Promise<ConnectionTest> {
	try {
		const models = await listModels(provider, access, signal);
		return { ok: true, models, modelListed: models.includes(provider.model) };
	} catch (error) {
		if (!(error instanceof ModelCallError)) throw error;
		return { ok: false, code: error.code, message: error.message };
	}
}

const errorBody = z.object({ error: z.object({ message: z.string() }) });

/** The message of an OpenAI or Anthropic error body: both put it at error.message. */
function errorMessageOf(body: unknown): string {
	try {
		return errorBody.parse(JSON.parse(String(body))).error.message;
	} catch {
		return '';
	}
}

function baseUrlOf(provider: ProviderConfig): string {
	if (provider.baseUrl !== null) return provider.baseUrl.replace(/\/+$/, '');
	if (provider.kind === 'openai' || provider.kind === 'anthropic') {
		return vendorBaseUrls[provider.kind];
	}
	throw new ModelCallError('provider_error', 'An OpenAI-compatible provider needs a base URL.');
}

function requiredKey(provider: ProviderConfig, apiKey: string | null): string {
	if (apiKey === null || apiKey === '') {
		throw new ModelCallError('auth_failed', `The ${provider.kind} provider needs an API key.`);
	}
	return apiKey;
}

function redactor(apiKey: string | null): (text: string) => string {
	if (apiKey === null || apiKey.length < 4) return (text) => text;
	return (text) => text.split(apiKey).join('[redacted]');
}
