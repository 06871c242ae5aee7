import { z } from 'zod';

/**
 * Custom tools are JavaScript a workspace writes for its agents: an input schema, sandboxed code and
 * a risk. What the browser and the server both check lives here; whether the input schema can be
 * turned into a validator is checked by the server (`inputValidator`).
 */

/** What a tool may do to the world: agents and approvals treat them differently. */
export const toolRisks = ['read', 'write', 'external'] as const;
export type ToolRisk = (typeof toolRisks)[number];

/** Letters, digits, `_` and `-`, starting with a letter: what model providers accept. */
export const toolNamePattern = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

export const toolLimits = { description: 1_000, source: 100_000, inputSchemaBytes: 64 * 1024 };

/** Tools that change things or reach outside need a person's approval unless their author says not. */
export function defaultRequiresApproval(risk: ToolRisk): boolean {
	return risk !== 'read';
}

export const toolNameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.regex(
		toolNamePattern,
		'Start with a letter; use at most 64 letters, digits, _ and - (no spaces).'
	);

export const toolDescriptionSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(toolLimits.description, `Use at most ${toolLimits.description} characters.`);

export const toolSourceSchema = z
	.string({ error: 'Required.' })
	.refine((source) => source.trim() !== '', { error: 'Enter the code.', abort: true })
	.max(toolLimits.source, `Use at most ${toolLimits.source.toLocaleString('en')} characters.`);

/** A JSON object, at most 64 KiB as JSON; the server checks that it is a usable object schema. */
export const toolInputSchemaSchema = z
	.record(z.string(), z.unknown(), { error: 'Give a JSON Schema object.' })
	.refine(
		(schema) =>
			new TextEncoder().encode(JSON.stringify(schema)).length <= toolLimits.inputSchemaBytes,
		`Keep the schema under ${toolLimits.inputSchemaBytes / 1024} KiB of JSON.`
	);

export const toolRiskSchema = z.enum(toolRisks, { error: `Choose ${toolRisks.join(', ')}.` });

export const createToolSchema = z.object({
	name: toolNameSchema,
	description: toolDescriptionSchema,
	inputSchema: toolInputSchemaSchema,
	source: toolSourceSchema,
	risk: toolRiskSchema,
	/** Absent: `defaultRequiresApproval(risk)`. */
	requiresApproval: z.boolean({ error: 'Give true or false.' }).optional(),
	/** Guest `fetch`, through the guarded HTTP client; absent: off. */
	allowFetch: z.boolean({ error: 'Give true or false.' }).optional()
});

export type CreateToolInput = z.infer<typeof createToolSchema>;

/** A partial update; changing the risk keeps the stored approval flag unless one is given. */
export const updateToolSchema = z.object({
	name: toolNameSchema.optional(),
	description: toolDescriptionSchema.optional(),
	inputSchema: toolInputSchemaSchema.optional(),
	source: toolSourceSchema.optional(),
	risk: toolRiskSchema.optional(),
	requiresApproval: z.boolean({ error: 'Give true or false.' }).optional(),
	allowFetch: z.boolean({ error: 'Give true or false.' }).optional()
});

export type UpdateToolInput = z.infer<typeof updateToolSchema>;

/** The body of a test run: the input handed to the tool (`{}` when absent). */
export const testToolSchema = z.object({ input: z.unknown() });
