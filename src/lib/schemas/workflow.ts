import { z } from 'zod';

/**
 * The workflow definition: the JSON a user edits, saves as an immutable version and runs. This file
 * checks its shape; the graph rules and each node kind's config are checked by the engine
 * (src/lib/server/engine/definition.ts), which reports every problem with its node id and path.
 */

export const nodeIdPattern = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export const nodeIdSchema = z
	.string()
	.regex(nodeIdPattern, 'Use 1–64 letters, digits, _ or -, starting with a letter or _.');

export const retryPolicySchema = z
	.object({
		/** Attempts in all, the first included. */
		maxAttempts: z.number().int().min(1).max(25).default(1),
		initialDelayMs: z.number().int().min(0).max(3_600_000).default(1_000),
		backoffFactor: z.number().min(1).max(10).default(2),
		maxDelayMs: z.number().int().min(0).max(86_400_000).default(300_000),
		/** Spread each delay randomly over [delay/2, delay] so retries of many runs do not align. */
		jitter: z.boolean().default(true)
	})
	.strict();

export type RetryPolicy = z.infer<typeof retryPolicySchema>;

const day = 86_400_000;

export const workflowNodeSchema = z
	.object({
		id: nodeIdSchema,
		kind: z.string().min(1).max(64),
		name: z.string().max(120).optional(),
		config: z.record(z.string(), z.unknown()).default({}),
		retry: retryPolicySchema.optional(),
		/** Per attempt; the step is aborted and counts as failed (and may be retried). */
		timeoutMs: z
			.number()
			.int()
			.min(1)
			.max(7 * day)
			.optional(),
		/** Where the visual editor draws the node; the engine ignores it. */
		position: z.object({ x: z.number(), y: z.number() }).strict().optional()
	})
	.strict();

export type WorkflowNode = z.infer<typeof workflowNodeSchema>;

export const workflowEdgeSchema = z
	.object({
		from: nodeIdSchema,
		to: nodeIdSchema,
		/** Which outcome of a branching node (condition, switch, approval) this edge follows. */
		branch: z.string().min(1).max(64).optional()
	})
	.strict();

export type WorkflowEdge = z.infer<typeof workflowEdgeSchema>;

export const inputFieldTypes = ['string', 'number', 'boolean', 'object', 'array'] as const;

export const inputFieldSchema = z
	.object({
		name: nodeIdSchema,
		type: z.enum(inputFieldTypes),
		required: z.boolean().default(false),
		description: z.string().max(500).optional(),
		default: z.unknown().optional()
	})
	.strict();

export type InputField = z.infer<typeof inputFieldSchema>;

export const workflowDefinitionSchema = z
	.object({
		/** Fields a run's input must have; unknown fields are refused. */
		inputs: z.array(inputFieldSchema).max(100).default([]),
		nodes: z.array(workflowNodeSchema).min(1, 'A workflow needs at least one node.').max(500),
		edges: z.array(workflowEdgeSchema).max(2000).default([]),
		/** JSONata giving the run's output, with `$input` and `$steps` bound; without it, the `output` node's. */
		output: z.string().max(10_000).optional(),
		/** Wall-clock limit for a whole run, waits included. */
		timeoutMs: z
			.number()
			.int()
			.min(1_000)
			.max(90 * day)
			.optional(),
		/** Model spending limits for a whole run (every agent and llm step in it, children included). */
		budget: z
			.object({
				maxTokens: z.number().int().min(1).max(1e12).optional(),
				maxCostUsd: z.number().min(0).max(1e6).optional()
			})
			.strict()
			.optional()
	})
	.strict();

export type WorkflowDefinition = z.infer<typeof workflowDefinitionSchema>;

/** One thing wrong with a definition, located for the editor. */
export interface DefinitionProblem {
	/** The node the problem belongs to, when it belongs to one. */
	nodeId?: string;
	/** Where in the JSON, e.g. `nodes[2].config.expression`. */
	path: string;
	message: string;
}

export const workflowMetaSchema = z.object({
	name: z
		.string({ error: 'Required.' })
		.trim()
		.min(1, 'Required.')
		.max(120, 'Use at most 120 characters.'),
	description: z.string().trim().max(2_000, 'Use at most 2,000 characters.').default('')
});

/** The JSON an export produces and an import accepts. */
export const workflowExportSchema = z
	.object({
		format: z.literal('awe.workflow/v1'),
		name: workflowMetaSchema.shape.name,
		description: workflowMetaSchema.shape.description,
		definition: z.unknown()
	})
	.strict();

export type WorkflowExport = z.infer<typeof workflowExportSchema>;

export const stepStatuses = [
	'pending',
	'ready',
	'running',
	'waiting',
	'succeeded',
	'failed',
	'skipped',
	'cancelled'
] as const;
export type StepStatus = (typeof stepStatuses)[number];

const fieldTypes: Record<(typeof inputFieldTypes)[number], () => z.ZodType> = {
	string: () => z.string(),
	number: () => z.number(),
	boolean: () => z.boolean(),
	object: () => z.record(z.string(), z.unknown()),
	array: () => z.array(z.unknown())
};

/** The schema a run's input must satisfy: the declared fields, defaults applied, nothing else. */
export function runInputSchema(fields: readonly InputField[]) {
	const shape: Record<string, z.ZodType> = {};
	for (const field of fields) {
		const base = fieldTypes[field.type]();
		shape[field.name] =
			field.default !== undefined
				? base.default(field.default)
				: field.required
					? base
					: base.optional();
	}
	return z.object(shape).strict();
}
