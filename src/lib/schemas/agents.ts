import { z } from 'zod';
import { toolNamePattern } from './tools.ts';

/**
 * Model providers, saved agents, their tools and limits: what the forms, the API and the engine's
 * `llm` and `agent` nodes share. Whether a provider answers is checked by the server.
 */

/**
 * `openai-compatible` covers Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, Groq, Together and the
 * like (a base URL is required); `scripted` answers from a fixed script, for deterministic tests.
 */
export const providerKinds = ['openai', 'openai-compatible', 'anthropic', 'scripted'] as const;
export type ProviderKind = (typeof providerKinds)[number];

/** The credential kind whose API key each provider kind uses; null: it needs none. */
export const providerCredentialKind = {
	openai: 'openai',
	'openai-compatible': 'openai',
	anthropic: 'anthropic',
	scripted: null
} as const satisfies Record<ProviderKind, 'openai' | 'anthropic' | null>;

export const providerLimits = {
	name: 100,
	model: 200,
	baseUrl: 2_048,
	concurrency: { min: 1, max: 256, default: 4 },
	timeoutMs: { min: 1_000, max: 600_000, default: 120_000 },
	scriptReplies: 200
};

const nameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(providerLimits.name, `Use at most ${providerLimits.name} characters.`);

export const modelNameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(providerLimits.model, `Use at most ${providerLimits.model} characters.`);

export const baseUrlSchema = z
	.string({ error: 'Enter a URL.' })
	.trim()
	.max(providerLimits.baseUrl, `Use at most ${providerLimits.baseUrl} characters.`)
	.refine((value) => {
		try {
			const url = new URL(value);
			return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '';
		} catch {
			return false;
		}
	}, 'Enter an http:// or https:// URL without a user name.');

/** One call a scripted reply makes. */
export const scriptedToolCallSchema = z
	.object({
		name: z.string().regex(toolNamePattern, 'A tool name: letters, digits, _ and -.'),
		input: z.record(z.string(), z.unknown()).default({})
	})
	.strict();

/**
 * A scripted provider's replies, served by turn: the n-th assistant turn of a conversation gets
 * reply n (the last one once they run out), so a turn executed again gets the same reply.
 */
export const scriptedReplySchema = z
	.object({
		text: z.string().max(100_000).default(''),
		toolCalls: z.array(scriptedToolCallSchema).max(20).default([]),
		usage: z
			.object({
				inputTokens: z.number().int().min(0).default(0),
				outputTokens: z.number().int().min(0).default(0)
			})
			.strict()
			.optional()
	})
	.strict();
export type ScriptedReply = z.infer<typeof scriptedReplySchema>;

export const scriptSchema = z
	.array(scriptedReplySchema, { error: 'Give a list of replies.' })
	.min(1, 'Give at least one reply.')
	.max(providerLimits.scriptReplies, `Give at most ${providerLimits.scriptReplies} replies.`);

const intIn = (range: { min: number; max: number }, what: string) =>
	z
		.number({ error: `Enter a whole number of ${what}.` })
		.int(`Enter a whole number of ${what}.`)
		.min(range.min, `Use at least ${range.min.toLocaleString('en')} ${what}.`)
		.max(range.max, `Use at most ${range.max.toLocaleString('en')} ${what}.`);

/** The fields of a provider as a PATCH gives them: any may be left out, and none has a default. */
const providerFields = {
	name: nameSchema,
	baseUrl: baseUrlSchema.nullable(),
	credentialId: z.uuid('Choose a credential.').nullable(),
	defaultModel: modelNameSchema,
	concurrency: intIn(providerLimits.concurrency, 'requests'),
	timeoutMs: intIn(providerLimits.timeoutMs, 'milliseconds'),
	script: scriptSchema.nullable()
};

export const createProviderSchema = z
	.object({
		kind: z.enum(providerKinds, { error: `Choose ${providerKinds.join(', ')}.` }),
		...providerFields,
		baseUrl: providerFields.baseUrl.default(null),
		credentialId: providerFields.credentialId.default(null),
		concurrency: providerFields.concurrency.default(providerLimits.concurrency.default),
		timeoutMs: providerFields.timeoutMs.default(providerLimits.timeoutMs.default),
		script: providerFields.script.default(null)
	})
	.strict()
	.superRefine((provider, context) => {
		if (provider.kind === 'openai-compatible' && provider.baseUrl === null)
			context.addIssue({ code: 'custom', path: ['baseUrl'], message: 'Enter the base URL.' });
		if (provider.kind === 'scripted' && provider.script === null)
			context.addIssue({ code: 'custom', path: ['script'], message: 'Give the replies.' });
		if (provider.kind !== 'scripted' && provider.script !== null)
			context.addIssue({
				code: 'custom',
				path: ['script'],
				message: 'Only scripted providers have a script.'
			});
	});
export type CreateProviderInput = z.infer<typeof createProviderSchema>;

/**
 * The kind of a provider never changes: make a new one instead. A field left out keeps its stored
 * value (no defaults are filled in).
 */
export const updateProviderSchema = z.object(providerFields).partial().strict();
export type UpdateProviderInput = z.infer<typeof updateProviderSchema>;

/** Budgets of one agent step; absent: no limit beyond the run's and the workspace's. */
export const agentLimitsSchema = z
	.object({
		maxTurns: z.number().int().min(1).max(200).default(10),
		maxTokens: z.number().int().min(1).max(100_000_000).optional(),
		maxCostUsd: z.number().min(0).max(100_000).optional()
	})
	.strict();
export type AgentLimits = z.infer<typeof agentLimitsSchema>;

export const builtInToolNames = ['http_request', 'run_code', 'current_time'] as const;

/**
 * A tool an agent may call. Credentials are mapped host-side: the `http_request` tool adds the
 * credential to requests for its host, so the secret never enters the model's context.
 */
export const agentToolSchema = z.discriminatedUnion('type', [
	z
		.object({
			type: z.literal('builtin'),
			name: z.enum(builtInToolNames),
			requiresApproval: z.boolean().optional(),
			credentials: z
				.array(z.object({ host: z.string().min(1).max(253), credentialId: z.uuid() }).strict())
				.max(20)
				.default([])
		})
		.strict(),
	z.object({ type: z.literal('custom'), toolId: z.uuid() }).strict(),
	z
		.object({
			type: z.literal('workflow'),
			workflowId: z.uuid(),
			/** The tool's name for the model; the workflow's name, made tool-safe, when absent. */
			name: z.string().regex(toolNamePattern).optional(),
			description: z.string().max(1_000).optional(),
			requiresApproval: z.boolean().optional()
		})
		.strict()
]);
export type AgentTool = z.infer<typeof agentToolSchema>;

/** A JSON Schema object the final answer must match. */
export const outputSchemaSchema = z
	.record(z.string(), z.unknown(), { error: 'Give a JSON Schema object.' })
	.refine((schema) => schema.type === 'object', 'The output schema must have "type": "object".')
	.refine((schema) => JSON.stringify(schema).length <= 64 * 1024, 'Keep the schema under 64 KiB.');

/** The fields of an agent as a PATCH gives them: any may be left out, and none has a default. */
const agentFields = {
	name: nameSchema,
	description: z.string().trim().max(1_000, 'Use at most 1,000 characters.'),
	instructions: z.string().max(100_000, 'Use at most 100,000 characters.'),
	providerId: z.uuid('Choose a model provider.'),
	/** The provider's default model when null. */
	model: modelNameSchema.nullable(),
	temperature: z.number().min(0).max(2).nullable(),
	tools: z.array(agentToolSchema).max(64, 'Give at most 64 tools.'),
	limits: agentLimitsSchema,
	outputSchema: outputSchemaSchema.nullable()
};

export const createAgentSchema = z
	.object({
		...agentFields,
		description: agentFields.description.default(''),
		instructions: agentFields.instructions.default(''),
		model: agentFields.model.default(null),
		temperature: agentFields.temperature.default(null),
		tools: agentFields.tools.default([]),
		limits: agentFields.limits.default({ maxTurns: 10 }),
		outputSchema: agentFields.outputSchema.default(null)
	})
	.strict();
export type CreateAgentInput = z.infer<typeof createAgentSchema>;
/** A field left out keeps its stored value (no defaults are filled in). */
export const updateAgentSchema = z.object(agentFields).partial().strict();
export type UpdateAgentInput = z.infer<typeof updateAgentSchema>;

/** USD per million tokens. */
const pricePerMillion = z.number().min(0).max(10_000);

export const modelPriceSchema = z
	.object({
		providerKind: z.enum(providerKinds),
		model: modelNameSchema,
		inputPerMillion: pricePerMillion,
		outputPerMillion: pricePerMillion,
		/** Cached input tokens; the input price when absent. */
		cachedInputPerMillion: pricePerMillion.nullable().default(null)
	})
	.strict();
export type ModelPriceInput = z.infer<typeof modelPriceSchema>;

/** A workspace's monthly spending limits (calendar month, UTC); null: none. */
export const workspaceBudgetSchema = z
	.object({
		monthlyCostLimitUsd: z.number().min(0).max(10_000_000).nullable(),
		monthlyTokenLimit: z.number().int().min(0).max(1e12).nullable()
	})
	.strict();
export type WorkspaceBudget = z.infer<typeof workspaceBudgetSchema>;
