import { z } from 'zod';
import type { SandboxPool } from '../../sandbox/pool.ts';
import type { CredentialResolver } from './http.ts';
import { evaluateForStep, expressionProblems, expressionSchema } from './step-expressions.ts';
import { StepFailure, type NodeKind, type StepContext } from './types.ts';

export interface CodeKindDeps {
	sandbox: SandboxPool;
	credentials: CredentialResolver;
}

const secretName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const codeConfigSchema = z
	.object({
		/** The body of an async function of `input` and `data`; what it returns is the output. */
		source: z
			.string({ error: 'Enter the code.' })
			.min(1, 'Enter the code.')
			.max(100_000, 'Use at most 100,000 characters.'),
		/** JSONata giving the code's `input`; the step input when absent. */
		input: expressionSchema.optional(),
		/** Guest `fetch`, through the guarded HTTP client. Off unless asked for. */
		allowFetch: z.boolean().default(false),
		/**
		 * Credentials handed to the code as `data.secrets[name]`: only those mapped here ever reach
		 * it, and their values are scrubbed from the step's output, error and logs.
		 */
		secrets: z
			.record(
				z.string().regex(secretName, 'Use a name made of letters, digits and _.'),
				z.uuid('Choose a credential.')
			)
			.default({}),
		timeoutMs: z
			.number()
			.int()
			.min(10, 'Use at least 10 ms.')
			.max(60_000, 'Use at most 60,000 ms.')
			.default(5_000),
		memoryMb: z
			.number()
			.int()
			.min(8, 'Use at least 8 MiB.')
			.max(256, 'Use at most 256 MiB.')
			.default(64)
	})
	.strict();

export type CodeConfig = z.infer<typeof codeConfigSchema>;

/** The `code` node: JavaScript in the QuickJS sandbox pool, JSON in and JSON out. */
export function createCodeKind(deps: CodeKindDeps): NodeKind<CodeConfig> {
	return {
		kind: 'code',
		description: 'Runs JavaScript in an isolated sandbox with the step input; returns JSON.',
		configSchema: codeConfigSchema,
		branches: () => 'none',
		checkConfig: (config) => expressionProblems('input', config.input),
		async execute(context: StepContext, config: CodeConfig) {
			const input =
				config.input === undefined ? context.input : await evaluateForStep(context, config.input);
			const secrets: Record<string, string> = {};
			for (const [name, credentialId] of Object.entries(config.secrets)) {
				const credential = await deps.credentials(context.workspaceId, credentialId);
				context.conceal(credential.secrets);
				secrets[name] = credential.secrets[0] ?? '';
			}
			const result = await deps.sandbox.run({
				source: config.source,
				input,
				data: { ...context.data, secrets },
				allowFetch: config.allowFetch,
				limits: { timeoutMs: config.timeoutMs, memoryLimitBytes: config.memoryMb * 1024 * 1024 },
				signal: context.signal
			});
			if (result.ok) return { type: 'succeeded', output: result.output, logs: result.logs };
			if (result.error.code === 'aborted') throw context.signal.reason;
			throw new StepFailure(`code_${result.error.code}`, result.error.message, {
				// The code itself is at fault, except when its runner died under it.
				retryable: result.error.code === 'runner_crashed',
				logs: result.logs
			});
		}
	};
}
