import { z } from 'zod';
import { renderForStep, templateProblems, templateSchema } from './step-expressions.ts';
import { StepFailure, type NodeKind } from './types.ts';

const failConfigSchema = z
	.object({
		code: z
			.string({ error: 'Enter an error code.' })
			.regex(
				/^[a-z][a-z0-9_]{0,63}$/,
				'Use 1–64 lowercase letters, digits or _, starting with a letter.'
			)
			.default('workflow_failed'),
		message: templateSchema
	})
	.strict();

export const failKind: NodeKind<z.infer<typeof failConfigSchema>> = {
	kind: 'fail',
	description: 'Fails the run with an error code and message.',
	configSchema: failConfigSchema,
	branches: () => 'none',
	maxOutgoing: 0,
	checkConfig: (config) => templateProblems('message', config.message),
	async execute(context, config) {
		const message = renderForStep(context, config.message);
		throw new StepFailure(config.code, message, { retryable: false });
	}
};
