import { z } from 'zod';
import { evaluateForStep, expressionProblems, expressionSchema } from './step-expressions.ts';
import type { NodeKind } from './types.ts';

const outputConfigSchema = z
	.object({
		/** JSONata giving the run's output; without it, the step input. */
		value: expressionSchema.optional()
	})
	.strict();

export const outputKind: NodeKind<z.infer<typeof outputConfigSchema>> = {
	kind: 'output',
	description: "Gives the run's output.",
	configSchema: outputConfigSchema,
	inline: true,
	branches: () => 'none',
	maxOutgoing: 0,
	checkConfig: (config) => expressionProblems('value', config.value),
	async execute(context, config) {
		const output =
			config.value === undefined ? context.input : await evaluateForStep(context, config.value);
		return { type: 'succeeded', output };
	}
};
