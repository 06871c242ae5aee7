import { z } from 'zod';
import {
	evaluateForStep,
	expressionProblems,
	expressionSchema,
	isTruthy
} from './step-expressions.ts';
import type { NodeKind } from './types.ts';

const conditionConfigSchema = z.object({ expression: expressionSchema }).strict();

export const conditionKind: NodeKind<z.infer<typeof conditionConfigSchema>> = {
	kind: 'condition',
	description: 'Follows the true or false branch by a JSONata expression; passes its input on.',
	configSchema: conditionConfigSchema,
	inline: true,
	branches: () => ['true', 'false'],
	checkConfig: (config) => expressionProblems('expression', config.expression),
	async execute(context, config) {
		const passed = isTruthy(await evaluateForStep(context, config.expression));
		return { type: 'succeeded', output: context.input, branch: passed ? 'true' : 'false' };
	}
};
