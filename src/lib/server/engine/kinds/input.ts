import { z } from 'zod';
import type { NodeKind } from './types.ts';

const inputConfigSchema = z.object({}).strict();

/** Where a run starts; the engine hands it the run's input as its step input. */
export const inputKind: NodeKind<z.infer<typeof inputConfigSchema>> = {
	kind: 'input',
	description: 'Starts the run and passes its input on.',
	configSchema: inputConfigSchema,
	inline: true,
	branches: () => 'none',
	async execute(context) {
		return { type: 'succeeded', output: context.input };
	}
};
