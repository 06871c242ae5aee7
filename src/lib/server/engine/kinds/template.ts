import { z } from 'zod';
import { renderForStep, templateProblems, templateSchema } from './step-expressions.ts';
import { StepFailure, type NodeKind } from './types.ts';

const templateConfigSchema = z
	.object({
		template: templateSchema,
		/** `json` parses the rendered text, for building structured data from a text template. */
		format: z.enum(['text', 'json'], { error: 'Use text or json.' }).default('text')
	})
	.strict();

export const templateKind: NodeKind<z.infer<typeof templateConfigSchema>> = {
	kind: 'template',
	description: 'Fills {{ path }} references in a text, optionally parsed as JSON.',
	configSchema: templateConfigSchema,
	branches: () => 'none',
	checkConfig: (config) => templateProblems('template', config.template),
	async execute(context, config) {
		const text = renderForStep(context, config.template);
		if (config.format === 'text') return { type: 'succeeded', output: text };
		try {
			return { type: 'succeeded', output: JSON.parse(text) as unknown };
		} catch (error) {
			const reason = error instanceof Error ? error.message : String(error);
			throw new StepFailure('invalid_json', `The rendered template is not JSON: ${reason}`, {
				retryable: false
			});
		}
	}
};
