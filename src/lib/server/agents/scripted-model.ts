import type {
	LanguageModelV4,
	LanguageModelV4CallOptions,
	LanguageModelV4Content,
	LanguageModelV4GenerateResult,
	LanguageModelV4StreamPart,
	LanguageModelV4StreamResult,
	LanguageModelV4Usage
} from '@ai-sdk/provider';

/** One reply of a scripted model: what it "says" on that turn. */
export interface ScriptedReply {
	text?: string;
	toolCalls?: { name: string; input: Record<string, unknown> }[];
	usage?: { inputTokens: number; outputTokens: number };
}

/**
 * A language model that answers from a list, for deterministic workflow tests. The reply is a pure
 * function of the conversation: the Nth reply for a prompt holding N-1 assistant messages, so a
 * re-executed turn gets the same answer. Tool-call ids derive from the turn and position.
 */
export function createScriptedModel(modelId: string, replies: ScriptedReply[]): LanguageModelV4 {
	return {
		specificationVersion: 'v4',
		provider: 'scripted',
		modelId,
		supportedUrls: {},
		doGenerate(options) {
			const { content, usage, finishReason } = scriptedTurn(replies, options);
			return Promise.resolve({ content, usage, finishReason, warnings: [] });
		},
		doStream(options) {
			const turn = scriptedTurn(replies, options);
			return Promise.resolve({ stream: streamOf(turn, options.abortSignal) });
		}
	};
}

type ScriptedTurn = Omit<LanguageModelV4GenerateResult, 'warnings'> & { turn: number };

/** Which reply answers this prompt: counted by the assistant messages already in it. */
function scriptedTurn(replies: ScriptedReply[], options: LanguageModelV4CallOptions): ScriptedTurn {
	options.abortSignal?.throwIfAborted();
	const turn = options.prompt.filter((message) => message.role === 'assistant').length;
	const reply = replies[turn];
	if (reply === undefined) {
		throw new ScriptedModelError(
			`The scripted model has ${replies.length} replies; turn ${turn + 1} has none.`
		);
	}
	const content: LanguageModelV4Content[] = [];
	if (reply.text !== undefined) content.push({ type: 'text', text: reply.text });
	(reply.toolCalls ?? []).forEach((call, index) => {
		content.push({
			type: 'tool-call',
			toolCallId: `scripted-${turn + 1}-${index + 1}`,
			toolName: call.name,
			input: JSON.stringify(call.input)
		});
	});
	const hasToolCalls = (reply.toolCalls ?? []).length > 0;
	return {
		turn,
		content,
		usage: usageOf(reply.usage),
		finishReason: { unified: hasToolCalls ? 'tool-calls' : 'stop', raw: undefined }
	};
}

/** Raised by the scripted model when its list has no reply for the turn. */
export class ScriptedModelError extends Error {
	override name = 'ScriptedModelError';
}

function usageOf(usage: ScriptedReply['usage']): LanguageModelV4Usage {
	return {
		inputTokens: {
			total: usage?.inputTokens ?? 0,
			noCache: usage?.inputTokens ?? 0,
			cacheRead: 0,
			cacheWrite: 0
		},
		outputTokens: { total: usage?.outputTokens ?? 0, text: usage?.outputTokens ?? 0, reasoning: 0 }
	};
}

/** The turn as a provider streams it: text word by word, each tool call's input, then finish. */
function streamOf(
	{ turn, content, usage, finishReason }: ScriptedTurn,
	signal: AbortSignal | undefined
): LanguageModelV4StreamResult['stream'] {
	const parts: LanguageModelV4StreamPart[] = [
		{ type: 'stream-start', warnings: [] },
		{ type: 'response-metadata', id: `scripted-${turn + 1}`, modelId: 'scripted' }
	];
	for (const [index, part] of content.entries()) {
		if (part.type === 'text') {
			const id = `text-${index}`;
			parts.push({ type: 'text-start', id });
			for (const delta of part.text.match(/\S+\s*|\s+/g) ?? []) {
				parts.push({ type: 'text-delta', id, delta });
			}
			parts.push({ type: 'text-end', id });
		} else if (part.type === 'tool-call') {
			const id = part.toolCallId;
			parts.push(
				{ type: 'tool-input-start', id, toolName: part.toolName },
				{ type: 'tool-input-delta', id, delta: part.input },
				{ type: 'tool-input-end', id },
				part
			);
		}
	}
	parts.push({ type: 'finish', usage, finishReason });
	let next = 0;
	return new ReadableStream<LanguageModelV4StreamPart>({
		pull(controller) {
			if (signal?.aborted) {
				controller.error(signal.reason);
				return;
			}
			const part = parts[next++];
			if (part === undefined) controller.close();
			else controller.enqueue(part);
		}
	});
}
