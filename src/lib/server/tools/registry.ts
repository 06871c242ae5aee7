import { z } from 'zod';
import { OutboundHttpError, type GuardedHttp } from '../outbound/guarded-http.ts';
import type { SandboxPool } from '../sandbox/pool.ts';
import { LruCache } from '../platform/lru.ts';
import { toolNamePattern, type ToolRisk } from '../../schemas/tools.ts';

// Shared with the forms and the API (src/lib/schemas/tools.ts).
export { toolNamePattern, toolRisks, type ToolRisk } from '../../schemas/tools.ts';

export type JsonSchema = Record<string, unknown>;

/** Where a tool runs: on behalf of a workspace, usually for a step of a run. */
export interface ToolContext {
	workspaceId: string;
	/** The same on every attempt of the calling step, so side effects can be deduplicated. */
	idempotencyKey: string;
	signal: AbortSignal;
	/** Secret values the tool used: the caller scrubs them from what it records. */
	conceal(secrets: readonly string[]): void;
}

export interface Tool {
	/** Unique in a registry: letters, digits, `_` and `-` (what model providers accept). */
	name: string;
	description: string;
	/** JSON Schema of the input (an object), as models and forms see it. */
	inputSchema: JsonSchema;
	risk: ToolRisk;
	/** Whether a person must approve each call before it runs. */
	requiresApproval: boolean;
	/** Validates `input` against the schema, then runs; an expected failure is a ToolError. */
	execute(context: ToolContext, input: unknown): Promise<unknown>;
}

/** An expected tool failure with a message safe to show (and to hand to a model). */
export class ToolError extends Error {
	override name = 'ToolError';
	readonly code: string;
	readonly retryable: boolean;

	constructor(code: string, message: string, options: { retryable?: boolean } = {}) {
		super(message);
		this.code = code;
		this.retryable = options.retryable ?? false;
	}
}

function checkInput<Schema extends z.ZodType>(schema: Schema, input: unknown): z.infer<Schema> {
	const parsed = schema.safeParse(input);
	if (parsed.success) return parsed.data;
	const issue = parsed.error.issues[0];
	const at = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
	throw new ToolError('invalid_input', `Invalid input${at}: ${issue?.message ?? 'rejected'}.`);
}

/** A tool whose input is checked by a zod schema, published as JSON Schema. */
export function defineTool<Schema extends z.ZodType>(definition: {
	name: string;
	description: string;
	input: Schema;
	risk: ToolRisk;
	requiresApproval?: boolean;
	run(context: ToolContext, input: z.infer<Schema>): Promise<unknown>;
}): Tool {
	if (!toolNamePattern.test(definition.name)) throw new Error(`Bad tool name ${definition.name}`);
	// Published without the dialect line, as model providers expect a plain object schema.
	const inputSchema = z.toJSONSchema(definition.input, { io: 'input' }) as JsonSchema;
	delete inputSchema.$schema;
	return {
		name: definition.name,
		description: definition.description,
		inputSchema,
		risk: definition.risk,
		requiresApproval: definition.requiresApproval ?? false,
		async execute(context, input) {
			return definition.run(context, checkInput(definition.input, input));
		}
	};
}

/**
 * Turns a user's JSON Schema into a validator; throws ToolError when the schema is not an object
 * schema or uses what cannot be checked (remote `$ref`s and the like).
 */
export function inputValidator(schema: JsonSchema): z.ZodType {
	if (schema.type !== 'object') {
		throw new ToolError(
			'invalid_schema',
			'The input schema must describe an object ("type": "object").'
		);
	}
	try {
		return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
	} catch (error) {
		throw new ToolError(
			'invalid_schema',
			`The input schema cannot be used: ${error instanceof Error ? error.message : String(error)}`
		);
	}
}

export class ToolRegistry {
	readonly #tools = new Map<string, Tool>();

	constructor(tools: Tool[] = []) {
		for (const tool of tools) this.add(tool);
	}

	add(tool: Tool): void {
		if (this.#tools.has(tool.name)) throw new Error(`Tool "${tool.name}" is registered twice.`);
		this.#tools.set(tool.name, tool);
	}

	get(name: string): Tool | undefined {
		return this.#tools.get(name);
	}

	list(): Tool[] {
		return [...this.#tools.values()];
	}

	/** A registry with these tools added after ours (a workspace's custom tools). */
	with(tools: Tool[]): ToolRegistry {
		return new ToolRegistry([...this.list(), ...tools]);
	}
}

export interface BuiltInToolDeps {
	http: GuardedHttp;
	sandbox: SandboxPool;
}

const headersSchema = z.record(z.string().min(1).max(200), z.string().max(8_000));

/** The tools every workspace has. */
export function builtInTools(deps: BuiltInToolDeps): Tool[] {
	return [
		defineTool({
			name: 'http_request',
			description:
				'Sends an HTTP request to a public address and returns status, headers and body (text).',
			risk: 'external',
			input: z
				.object({
					method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
					url: z.string().min(1).max(8_000),
					headers: headersSchema.default({}),
					body: z.string().max(1_000_000).optional()
				})
				.strict(),
			async run(context, input) {
				try {
					const response = await deps.http.request({
						...input,
						headers: { ...input.headers, 'idempotency-key': context.idempotencyKey },
						signal: context.signal
					});
					return {
						status: response.status,
						headers: Object.fromEntries(
							[...response.headers].filter(([name]) => name !== 'set-cookie')
						),
						body: response.body.toString('utf8')
					};
				} catch (error) {
					if (error instanceof OutboundHttpError) {
						throw new ToolError(`http_${error.code}`, error.message, {
							retryable: error.code === 'timeout' || error.code === 'connect_failed'
						});
					}
					throw error;
				}
			}
		}),
		defineTool({
			name: 'run_code',
			description:
				'Runs JavaScript (the body of an async function of `input`) in an isolated sandbox and returns its JSON result.',
			risk: 'read',
			input: z
				.object({ source: z.string().min(1).max(100_000), input: z.unknown().optional() })
				.strict(),
			async run(context, input) {
				const result = await deps.sandbox.run({
					source: input.source,
					input: input.input ?? null,
					signal: context.signal
				});
				if (!result.ok) throw new ToolError(`code_${result.error.code}`, result.error.message);
				return { output: result.output, logs: result.logs };
			}
		}),
		defineTool({
			name: 'current_time',
			description: 'The current date and time, in UTC and in an optional IANA time zone.',
			risk: 'read',
			input: z.object({ timeZone: z.string().min(1).max(100).optional() }).strict(),
			async run(_context, input) {
				const now = new Date();
				const timeZone = input.timeZone ?? 'UTC';
				return { utc: now.toISOString(), timeZone, local: localTime(timeZone).format(now) };
			}
		})
	];
}

// Making a formatter costs far more than using one: the zones asked for recently keep theirs.
const formatters = new LruCache<string, Intl.DateTimeFormat>(64);

function localTime(timeZone: string): Intl.DateTimeFormat {
	let formatter = formatters.get(timeZone);
	if (formatter !== undefined) return formatter;
	try {
		formatter = new Intl.DateTimeFormat('en-CA', {
			timeZone,
			dateStyle: 'short',
			timeStyle: 'medium',
			hourCycle: 'h23'
		});
	} catch {
		throw new ToolError('invalid_input', `Unknown time zone "${timeZone}".`);
	}
	formatters.set(timeZone, formatter);
	return formatter;
}

/** A tool a user wrote: sandboxed code with an input schema. */
export interface CustomToolDefinition {
	name: string;
	description: string;
	inputSchema: JsonSchema;
	source: string;
	risk: ToolRisk;
	requiresApproval: boolean;
	allowFetch: boolean;
}

/** Runs a user's tool in the sandbox after checking its input against the user's schema. */
export function customTool(definition: CustomToolDefinition, sandbox: SandboxPool): Tool {
	const validator = inputValidator(definition.inputSchema);
	return {
		name: definition.name,
		description: definition.description,
		inputSchema: definition.inputSchema,
		risk: definition.risk,
		requiresApproval: definition.requiresApproval,
		async execute(context, input) {
			const result = await sandbox.run({
				source: definition.source,
				input: checkInput(validator, input),
				allowFetch: definition.allowFetch,
				signal: context.signal
			});
			if (!result.ok) throw new ToolError(`code_${result.error.code}`, result.error.message);
			return result.output;
		}
	};
}
