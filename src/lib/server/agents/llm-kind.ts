import type { ModelMessage } from 'ai';
import { z } from 'zod';
import { modelNameSchema, outputSchemaSchema } from '../../schemas/agents.ts';
import { renderForStep } from '../engine/kinds/step-expressions.ts';
import { StepFailure, type ModelUsageRecord, type NodeKind } from '../engine/kinds/types.ts';
import {
	promptProblems,
	schemaProblems,
	together,
	usageRecord,
	type AgentDeps
} from './agent-kinds.ts';
import { checkBudgets } from './budgets.ts';
import { checkAnswer } from './structured-output.ts';

export const llmConfigSchema = z
	.object({
		providerId: z.uuid('Choose a model provider.'),
		/** The provider's default model when absent. */
		model: modelNameSchema.optional(),
		/** System instructions: a `{{ path }}` template. */
		system: z.string().max(100_000, 'Use at most 100,000 characters.').optional(),
		/** The user message: a `{{ path }}` template. */
		prompt: z.string({ error: 'Enter a prompt.' }).min(1, 'Enter a prompt.').max(100_000),
		temperature: z.number().min(0).max(2).optional(),
		/** A JSON Schema object the answer must match; the output is then the parsed value. */
		outputSchema: outputSchemaSchema.optional(),
		maxTokens: z.number().int().min(1).max(100_000_000).optional(),
		maxCostUsd: z.number().min(0).max(100_000).optional()
	})
	.strict();

export type LlmConfig = z.infer<typeof llmConfigSchema>;

/**
 * The `llm` node: one completion. With an output schema the answer is validated; an invalid one
 * gets one repair request, then fails the step with `invalid_output` and the model's text.
 */
export function createLlmKind(deps: AgentDeps): NodeKind<LlmConfig> {
	return {
		kind: 'llm',
		description: 'One model completion from a prompt, optionally structured by a JSON Schema.',
		configSchema: llmConfigSchema,
		branches: () => 'none',
		checkConfig: (config) => [
			...promptProblems({ instructions: config.system, prompt: config.prompt }),
			...schemaProblems(config.outputSchema)
		],
		async execute(context, config) {
			const system = config.system ? renderForStep(context, config.system, 'text') : '';
			const messages: ModelMessage[] = [
				{ role: 'user', content: renderForStep(context, config.prompt, 'text') }
			];
			const usage: ModelUsageRecord[] = [];
			const limits = { maxTokens: config.maxTokens, maxCostUsd: config.maxCostUsd };
			for (let attempt = 0; ; attempt += 1) {
				let result;
				try {
					const [, model] = await together([
						checkBudgets(context, limits, context.path),
						deps.openModel(context.workspaceId, config.providerId, config.model ?? null)
					] as const);
					result = await model.call({
						system,
						messages,
						tools: [],
						outputSchema: config.outputSchema ?? null,
						temperature: config.temperature ?? null,
						signal: context.signal,
						onTextDelta: (text) => context.stream(text)
					});
				} catch (error) {
					throw usage.length === 0 ? error : withUsage(error, usage);
				}
				usage.push(usageRecord(result));
				const answer = checkAnswer(result.text, config.outputSchema ?? null);
				if (answer.ok) return { type: 'succeeded', output: answer.value, usage };
				if (attempt >= 1) {
					throw new StepFailure(
						'invalid_output',
						`The model's answer does not match the output schema (${answer.problem}), also after a request to repair it. Its answer: ${result.text}`,
						{ retryable: false, usage }
					);
				}
				messages.push(
					{ role: 'assistant', content: result.text },
					{
						role: 'user',
						content: `Your answer does not match the required JSON Schema: ${answer.problem}. Answer again with only a JSON value that matches it.`
					}
				);
			}
		}
	};
}

/** A failure after requests were made: they were paid for, so the ledger records them. */
function withUsage(error: unknown, usage: ModelUsageRecord[]): unknown {
	if (!(error instanceof StepFailure)) return error;
	return new StepFailure(error.code, error.message, {
		retryable: error.retryable,
		logs: error.logs,
		usage: [...usage, ...(error.usage ?? [])]
	});
}
