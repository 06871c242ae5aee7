import { z } from 'zod';
import { evaluateForStep, expressionProblems, expressionSchema } from './step-expressions.ts';
import type { NodeKind } from './types.ts';

const transformConfigSchema = z.object({ expression: expressionSchema }).strict();

export const transformKind: NodeKind<z.infer<typeof transformConfigSchema>> = {
	kind: 'transform',
	description: 'Reshapes data with a JSONata expression.',
	configSchema: transformConfigSchema,
	inline: true,
	branches: () => 'none',
	checkConfig: (config) => expressionProblems('expression', config.expression),
	async execute(context, config) {
		return { type: 'succeeded', output: await evaluateForStep(context, config.expression) };
	}
};
