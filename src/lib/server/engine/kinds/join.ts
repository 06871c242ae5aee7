import { z } from 'zod';
import type { NodeKind } from './types.ts';

/**
 * When the engine runs a join: `all` once every incoming branch has finished or been skipped, if at
 * least one was taken; `any` when the first arrives; `first-n` when `n` have arrived (skipped if
 * fewer than `n` still can).
 */
export const joinConfigSchema = z
	.object({
		mode: z.enum(['all', 'any', 'first-n'], { error: 'Use all, any or first-n.' }).default('all'),
		n: z
			.number({ error: 'Enter a whole number of branches.' })
			.int('Enter a whole number of branches.')
			.min(1, 'Wait for at least 1 branch.')
			.optional()
	})
	.strict()
	.superRefine((config, context) => {
		if (config.mode === 'first-n' && config.n === undefined) {
			context.addIssue({
				code: 'custom',
				path: ['n'],
				message: 'Set n, the branches to wait for.'
			});
		}
		if (config.mode !== 'first-n' && config.n !== undefined) {
			context.addIssue({ code: 'custom', path: ['n'], message: 'n applies only to mode first-n.' });
		}
	});

export type JoinConfig = z.infer<typeof joinConfigSchema>;

export const joinKind: NodeKind<JoinConfig> = {
	kind: 'join',
	description: 'Waits for incoming branches and passes on their outputs keyed by node id.',
	configSchema: joinConfigSchema,
	inline: true,
	branches: () => 'none',
	// The engine builds the input from the predecessors that were taken.
	async execute(context) {
		return { type: 'succeeded', output: context.input };
	}
};
