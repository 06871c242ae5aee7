import { z } from 'zod';
import { renderForStep, templateProblems, templateSchema } from './step-expressions.ts';
import type { NodeKind } from './types.ts';

const templateConfigSchema = z
	.object({
		template: templateSchema,
		/**
		 * `json` builds structured data: the text must be JSON, each value is inserted as JSON (as
		 * string content inside quotes), and the result is parsed.
		 */
		format: z.enum(['text', 'json'], { error: 'Use text or json.' }).default('text')
	})
	.strict();

export const templateKind: NodeKind<z.infer<typeof templateConfigSchema>> = {
	kind: 'template',
	description: 'Fills {{ path }} references in a text, optionally parsed as JSON.',
	configSchema: templateConfigSchema,
	inline: true,
	branches: () => 'none',
	checkConfig: (config) => templateProblems('template', config.template, config.format),
	async execute(context, config) {
		const text = renderForStep(context, config.template, config.format);
		// JSON rendering refuses text that is not JSON, so this parse cannot fail.
		return {
			type: 'succeeded',
			output: config.format === 'json' ? (JSON.parse(text) as unknown) : text
		};
	}
};
