import { z } from 'zod';
import { StepFailure, type NodeKind } from '../../src/lib/server/engine/kinds/types.ts';

export interface ProbeExecution {
	label: string;
	idempotencyKey: string;
	attempt: number;
	input: unknown;
}

const probeConfigSchema = z
	.object({
		label: z.string().default('probe'),
		/** Milliseconds to work for; the signal cuts it short. */
		sleepMs: z.number().int().min(0).default(0),
		/** Fail (retryably) on the first N attempts. */
		failTimes: z.number().int().min(0).default(0),
		/** Fail the first N executions of this label in this process, whatever run they belong to. */
		failFirstExecutions: z.number().int().min(0).default(0),
		/** Ignore the abort signal, like badly behaved code. */
		ignoreAbort: z.boolean().default(false)
	})
	.strict();

/**
 * A node kind for tests: records each execution (through `record`, e.g. into a table), then
 * sleeps, fails or succeeds as configured. Its output echoes its input.
 */
export function createProbeKind(
	record: (execution: ProbeExecution) => Promise<void> | void
): NodeKind<z.infer<typeof probeConfigSchema>> {
	const executionsByLabel = new Map<string, number>();
	return {
		kind: 'probe',
		description: 'Test probe',
		configSchema: probeConfigSchema,
		branches: () => 'none',
		async execute(context, config) {
			await record({
				label: config.label,
				idempotencyKey: context.idempotencyKey,
				attempt: context.attempt,
				input: context.input
			});
			if (config.sleepMs > 0) {
				await new Promise<void>((resolve, reject) => {
					const timer = setTimeout(resolve, config.sleepMs);
					if (!config.ignoreAbort) {
						context.signal.addEventListener('abort', () => {
							clearTimeout(timer);
							reject(context.signal.reason);
						});
					}
				});
			}
			const executed = (executionsByLabel.get(config.label) ?? 0) + 1;
			executionsByLabel.set(config.label, executed);
			if (executed <= config.failFirstExecutions) {
				throw new StepFailure('probe_failed', `Probe failed on execution ${executed}.`);
			}
			if (context.attempt <= config.failTimes) {
				throw new StepFailure('probe_failed', `Probe failed on attempt ${context.attempt}.`);
			}
			return {
				type: 'succeeded',
				output: { label: config.label, input: context.input, pid: process.pid }
			};
		}
	};
}
