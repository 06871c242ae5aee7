import { z } from 'zod';
import { nodeIdSchema } from '../../../schemas/workflow.ts';
import {
	evaluateForStep,
	expressionProblems,
	expressionSchema,
	isTruthy
} from './step-expressions.ts';
import type { NodeKind } from './types.ts';

const defaultBranch = 'default';

const caseSchema = z
	.object({
		label: nodeIdSchema.refine((label) => label !== defaultBranch, {
			message: `"${defaultBranch}" is the branch taken when no case matches; choose another label.`
		}),
		expression: expressionSchema
	})
	.strict();

const switchConfigSchema = z
	.object({
		cases: z
			.array(caseSchema, { error: 'List the cases.' })
			.min(1, 'Add at least one case.')
			.max(50, 'Use at most 50 cases.')
	})
	.strict()
	.superRefine((config, context) => {
		const seen = new Set<string>();
		config.cases.forEach((entry, index) => {
			if (seen.has(entry.label)) {
				context.addIssue({
					code: 'custom',
					path: ['cases', index, 'label'],
					message: `Label "${entry.label}" is used twice.`
				});
			}
			seen.add(entry.label);
		});
	});

export const switchKind: NodeKind<z.infer<typeof switchConfigSchema>> = {
	kind: 'switch',
	description: 'Follows the first case whose JSONata expression is true, else "default".',
	configSchema: switchConfigSchema,
	inline: true,
	branches: (config) => [...config.cases.map((entry) => entry.label), defaultBranch],
	checkConfig: (config) =>
		config.cases.flatMap((entry, index) =>
			expressionProblems(`cases[${index}].expression`, entry.expression)
		),
	async execute(context, config) {
		for (const entry of config.cases) {
			if (isTruthy(await evaluateForStep(context, entry.expression))) {
				return { type: 'succeeded', output: context.input, branch: entry.label };
			}
		}
		return { type: 'succeeded', output: context.input, branch: defaultBranch };
	}
};
