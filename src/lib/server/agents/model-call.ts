import {
	jsonSchema,
	Output,
	streamText,
	tool,
	type JSONSchema7,
	type ModelMessage,
	type ToolSet
} from 'ai';
import { createKeyedSemaphore, type KeyedSemaphore } from './keyed-semaphore.ts';
import { ModelCallError, modelCallError } from './model-call-error.ts';
import type { ProviderModel } from './providers.ts';

export { ModelCallError, type ModelCallErrorCode } from './model-call-error.ts';

/** A tool the model may call; AWE runs it, so the SDK gets no `execute`. */
export interface ModelTool {
	name: string;
	description: string;
	/** JSON Schema of the tool's input (an object schema). */
	inputSchema: JSONSchema7;
}

export interface ModelTurnLimits {
	/** Requests of one model turn in all: the first and its retries. Default 3. */
	maxAttempts?: number;
	/** The first backoff; it doubles each retry. Default 1 s. */
	baseDelayMs?: number;
	/** The longest wait before a retry, Retry-After included. Default 30 s. */
	maxDelayMs?: number;
	/** For one request, from sending it to the end of its stream. Default 10 min. */
	timeoutMs?: number;
	/** Requests in flight at once for `concurrencyKey`, across the process. Default unlimited. */
	concurrency?: number;
	/** Which requests share the concurrency limit: the provider's id. Default: its kind and URL. */
	concurrencyKey?: string;
}

export interface ModelTurnInput {
	model: ProviderModel;
	system?: string;
	/** The conversation so far, as stored: plain JSON ModelMessages. */
	messages: ModelMessage[];
	tools?: ModelTool[];
	/**
	 * Asks for a JSON answer matching this schema (the provider's structured output). The text is
	 * returned as it came: the caller validates it, and may ask the model to repair it.
	 */
	outputSchema?: JSONSchema7;
	temperature?: number;
	maxOutputTokens?: number;
	signal?: AbortSignal;
	/** Each piece of text as it streams in. A retried attempt starts only before the first piece. */
	onTextDelta?: (delta: string) => void;
	limits?: ModelTurnLimits;
}

export interface ModelToolCall {
	id: string;
	name: string;
	input: unknown;
}

export interface ModelTurnUsage {
	/** Every prompt token, cached ones included. */
	inputTokens: number;
	outputTokens: number;
	cachedInputTokens: number;
}

export interface ModelTurnResult {
	text: string;
	toolCalls: ModelToolCall[];
	usage: ModelTurnUsage;
	finishReason: 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'error' | 'other';
	/** Wall time of the turn, retries and waits included. */
	durationMs: number;
	/** The model's reply as ModelMessages (plain JSON) to append to the conversation. */
	responseMessages: ModelMessage[];
	/** Requests made: 1, or more after retries. */
	attempts: number;
}

const defaults = {
	maxAttempts: 3,
	baseDelayMs: 1000,
	maxDelayMs: 30_000,
	timeoutMs: 600_000
};

/** Shared by every call in the process, so a provider's limit holds across agents. */
const providerSlots: KeyedSemaphore = createKeyedSemaphore();

/**
 * One model turn: exactly one model request (no SDK tool loop), streamed, retried on 429 and
 * server errors with exponential backoff that honours Retry-After, within the provider's
 * concurrency limit. The SDK's own retries are off so the attempts are counted once, here.
 */
export async function callModelTurn(input: ModelTurnInput): Promise<ModelTurnResult> {
	const limits = { ...defaults, ...input.limits };
	const startedAt = performance.now();
	const { provider } = input.model;
	const key = limits.concurrencyKey ?? `${provider.kind} ${provider.baseUrl ?? ''}`;
	for (let attempt = 1; ; attempt++) {
		const release =
			limits.concurrency === undefined
				? () => {}
				: await providerSlots
						.acquire(key, limits.concurrency, input.signal)
						.catch((error: unknown) => {
							throw modelCallError(error, input.model.redact, input.signal);
						});
		let streamed = false;
		try {
			const turn = await requestTurn(input, limits.timeoutMs, () => (streamed = true));
			return { ...turn, durationMs: Math.round(performance.now() - startedAt), attempts: attempt };
		} catch (error) {
			const failure = error as ModelCallError;
			if (!failure.retryable || streamed || attempt >= limits.maxAttempts) throw failure;
			release();
			const backoff = limits.baseDelayMs * 2 ** (attempt - 1);
			await wait(Math.min(failure.retryAfterMs ?? backoff, limits.maxDelayMs), input);
		} finally {
			release();
		}
	}
}

type Turn = Omit<ModelTurnResult, 'durationMs' | 'attempts'>;

/** One request; fails with a ModelCallError. */
async function requestTurn(
	input: ModelTurnInput,
	timeoutMs: number,
	onFirstDelta: () => void
): Promise<Turn> {
	const { redact } = input.model;
	const controller = new AbortController();
	const timedOut = new ModelCallError(
		'timeout',
		`The model did not finish within ${timeoutMs} ms.`,
		{ retryable: true }
	);
	const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
	const cancel = () => controller.abort(input.signal?.reason);
	if (input.signal?.aborted) cancel();
	input.signal?.addEventListener('abort', cancel, { once: true });
	try {
		const result = streamText({
			model: input.model.languageModel,
			instructions: input.system,
			messages: input.messages,
			tools: declaredTools(input.tools ?? []),
			output:
				input.outputSchema === undefined
					? undefined
					: Output.object({ schema: jsonSchema(input.outputSchema) }),
			temperature: input.temperature,
			maxOutputTokens: input.maxOutputTokens,
			maxRetries: 0,
			abortSignal: controller.signal,
			// Errors arrive as parts of the stream below; the default handler would log them too.
			onError: () => {}
		});
		let text = '';
		for await (const part of result.fullStream) {
			if (part.type === 'text-delta' && part.text !== '') {
				if (text === '') onFirstDelta();
				text += part.text;
				input.onTextDelta?.(part.text);
			} else if (part.type === 'error') {
				throw part.error;
			} else if (part.type === 'abort') {
				throw controller.signal.reason;
			}
		}
		const [toolCalls, usage, finishReason, response] = await Promise.all([
			result.toolCalls,
			result.usage,
			result.finishReason,
			result.response
		]);
		return {
			text,
			toolCalls: toolCalls.map((call) => ({
				id: call.toolCallId,
				name: call.toolName,
				input: call.input
			})),
			usage: {
				inputTokens: usage.inputTokens ?? 0,
				outputTokens: usage.outputTokens ?? 0,
				cachedInputTokens: usage.inputTokenDetails.cacheReadTokens ?? 0
			},
			finishReason: finishReason === 'interrupted' ? 'other' : finishReason,
			responseMessages: plainJson(response.messages)
		};
	} catch (error) {
		if (controller.signal.reason === timedOut) throw timedOut;
		throw modelCallError(error, redact, input.signal);
	} finally {
		clearTimeout(timer);
		input.signal?.removeEventListener('abort', cancel);
	}
}

/** The tools as the SDK declares them to the model, without `execute`: AWE runs them. */
function declaredTools(tools: ModelTool[]): ToolSet | undefined {
	if (tools.length === 0) return undefined;
	return Object.fromEntries(
		tools.map(({ name, description, inputSchema }) => [
			name,
			tool({ description, inputSchema: jsonSchema(inputSchema) })
		])
	);
}

/**
 * The messages as they will read back from a jsonb column: no undefined members, no class
 * instances, so the stored conversation and the one fed to the next turn are the same.
 */
function plainJson(messages: ModelMessage[]): ModelMessage[] {
	return JSON.parse(JSON.stringify(messages)) as ModelMessage[];
}

function wait(ms: number, { signal, model }: ModelTurnInput): Promise<void> {
	return new Promise((resolve, reject) => {
		const onAbort = () => {
			clearTimeout(timer);
			reject(modelCallError(signal?.reason, model.redact, signal));
		};
		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		if (signal?.aborted) onAbort();
		signal?.addEventListener('abort', onAbort, { once: true });
	});
}
