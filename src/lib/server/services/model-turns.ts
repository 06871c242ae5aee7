import type { JSONSchema7 } from 'ai';
import type { AgentDeps } from '../agents/agent-kinds.ts';
import { callModelTurn, ModelCallError } from '../agents/model-call.ts';
import {
	createLanguageModel,
	type ProviderAccess,
	type ProviderConfig
} from '../agents/providers.ts';
import type { Db } from '../db/index.ts';
import * as providers from '../db/model-providers.ts';
import type { ModelProvider } from '../db/schema/index.ts';
import { StepFailure } from '../engine/kinds/types.ts';
import type { FetchFunction } from '../outbound/guarded-fetch.ts';
import type { CredentialLookup } from '../tools/tooling.ts';

// The model client of the agent kinds: a workspace's provider record, its API key decrypted host
// side, an AI SDK model over the guarded fetch, and exactly one streamed request per turn (with the
// provider's concurrency limit and timeout). Provider failures become step failures the engine
// retries when they are worth retrying.

export interface ModelTurnsContext {
	db: Db;
	lookupCredential: CredentialLookup;
	/** The guarded fetch: SSRF rules and AWE_HTTP_ALLOW apply to providers too. */
	fetch: FetchFunction;
}

const unavailable = (code: string, message: string) =>
	new StepFailure(code, message, { retryable: false });

/** The provider record, its API key and the AI SDK configuration for `model`. */
export async function providerAccess(
	ctx: ModelTurnsContext,
	workspaceId: string,
	providerId: string,
	model: string | null
): Promise<{ row: ModelProvider; config: ProviderConfig; access: ProviderAccess }> {
	const row = await providers.get(ctx.db, workspaceId, providerId);
	if (row === null)
		throw unavailable('provider_not_found', 'The model provider does not exist in this workspace.');
	const modelName = model ?? row.defaultModel;
	if (row.kind === 'scripted') {
		return {
			row,
			config: { kind: 'scripted', baseUrl: null, model: modelName, replies: row.script ?? [] },
			access: { apiKey: null, fetch: ctx.fetch }
		};
	}
	let apiKey: string | null = null;
	let baseUrl = row.baseUrl;
	if (row.credentialId !== null) {
		const credential = await ctx.lookupCredential(workspaceId, row.credentialId);
		if (credential === null)
			throw unavailable('credential_missing', "The model provider's credential is gone.");
		if (credential.kind !== 'openai' && credential.kind !== 'anthropic')
			throw unavailable('credential_missing', "The model provider's credential has no API key.");
		apiKey = credential.apiKey;
		baseUrl ??= credential.baseUrl ?? null;
	}
	return {
		row,
		config: { kind: row.kind, baseUrl, model: modelName },
		access: { apiKey, fetch: ctx.fetch }
	};
}

/** `openModel` of the agent kinds. */
export function createModelOpener(ctx: ModelTurnsContext): AgentDeps['openModel'] {
	return async (workspaceId, providerId, modelName) => {
		const { row, config, access } = await providerAccess(ctx, workspaceId, providerId, modelName);
		const model = createLanguageModel(config, access);
		return {
			async call(request) {
				try {
					const result = await callModelTurn({
						model,
						...(request.system !== '' && { system: request.system }),
						messages: request.messages,
						tools: request.tools.map((tool) => ({
							name: tool.name,
							description: tool.description,
							inputSchema: tool.inputSchema as JSONSchema7
						})),
						...(request.outputSchema !== null && {
							outputSchema: request.outputSchema as JSONSchema7
						}),
						...(request.temperature !== null && { temperature: request.temperature }),
						signal: request.signal,
						onTextDelta: request.onTextDelta,
						limits: {
							timeoutMs: row.timeoutMs,
							concurrency: row.concurrency,
							concurrencyKey: row.id
						}
					});
					return {
						text: result.text,
						toolCalls: result.toolCalls,
						usage: result.usage,
						finishReason: result.finishReason,
						durationMs: result.durationMs,
						providerId: row.id,
						providerKind: row.kind,
						model: config.model
					};
				} catch (error) {
					if (request.signal.aborted) throw request.signal.reason;
					if (error instanceof ModelCallError)
						throw new StepFailure(`model_${error.code}`, error.message, {
							retryable: error.retryable
						});
					throw error;
				}
			}
		};
	};
}
