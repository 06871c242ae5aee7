// The messages between the sandbox pool (host) and its runner processes, over the Node IPC channel.
// The runner is plain JavaScript (`runner-process.js`) and imports only the types from here.
import { z } from 'zod';

export const sandboxErrorCodes = [
	'timeout',
	'out_of_memory',
	'stack_overflow',
	'output_too_large',
	'not_json',
	'syntax_error',
	'runtime_error',
	'runner_crashed',
	'aborted'
] as const;

export type SandboxErrorCode = (typeof sandboxErrorCodes)[number];

/** What one execution may use. Every field is a positive integer. */
export type SandboxLimits = {
	/** QuickJS heap, in bytes. */
	memoryLimitBytes: number;
	/** Wall time, including time spent waiting for `fetch`. */
	timeoutMs: number;
	/** QuickJS stack, in bytes. */
	maxStackBytes: number;
	/** Size of the output as JSON text, in UTF-8 bytes. */
	maxOutputBytes: number;
	/** Console lines kept; the rest are dropped behind one marker line. */
	maxLogLines: number;
	/** Characters kept per console line. */
	maxLogLineChars: number;
};

export const logLevels = ['log', 'info', 'warn', 'error'] as const;

export type SandboxLogEntry = { level: (typeof logLevels)[number]; message: string };

export type SandboxError = { code: SandboxErrorCode; message: string };

export const fetchRequestSchema = z.object({
	url: z.string(),
	method: z.string(),
	headers: z.record(z.string(), z.string()),
	body: z.string().optional()
});

/** An HTTP request made by guest code, handed to the pool's `fetch`. */
export type SandboxFetchRequest = z.infer<typeof fetchRequestSchema>;

export const fetchResponseSchema = z.object({
	status: z.number().int().min(100).max(599),
	headers: z.record(z.string(), z.string()),
	body: z.string()
});

export type SandboxFetchResponse = z.infer<typeof fetchResponseSchema>;

/** Host → runner: execute `source`; `input` and `data` are JSON text. */
export type RunMessage = {
	type: 'run';
	id: number;
	source: string;
	input: string;
	data: string;
	limits: SandboxLimits;
	allowFetch: boolean;
};

/** Host → runner: the answer to one `fetch` message. */
export type FetchReplyMessage = {
	type: 'fetch-reply';
	id: number;
	requestId: number;
} & ({ response: SandboxFetchResponse } | { error: string });

export type HostMessage = RunMessage | FetchReplyMessage;

const logEntrySchema = z.object({ level: z.enum(logLevels), message: z.string() });

const runnerResultSchema = z.discriminatedUnion('ok', [
	// The output stays JSON text across the channel; the host parses it once.
	z.object({ ok: z.literal(true), output: z.string(), logs: z.array(logEntrySchema) }),
	z.object({
		ok: z.literal(false),
		error: z.object({ code: z.enum(sandboxErrorCodes), message: z.string() }),
		logs: z.array(logEntrySchema)
	})
]);

export type RunnerResult = z.infer<typeof runnerResultSchema>;

/** Runner → host. Parsed, not trusted: the runner is where untrusted code runs. */
export const runnerMessageSchema = z.discriminatedUnion('type', [
	z.object({ type: z.literal('ready') }),
	z.object({
		type: z.literal('fetch'),
		id: z.number(),
		requestId: z.number(),
		request: fetchRequestSchema
	}),
	z.object({ type: z.literal('result'), id: z.number(), result: runnerResultSchema })
]);

export type RunnerMessage = z.infer<typeof runnerMessageSchema>;
