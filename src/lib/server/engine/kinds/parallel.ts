import { z } from 'zod';
import type { NodeKind } from './types.ts';

const parallelConfigSchema = z.object({}).strict();

// Fan-out needs nothing of its own: every outgoing edge of any node is followed.
export const parallelKind: NodeKind<z.infer<typeof parallelConfigSchema>> = {
	kind: 'parallel',
	description: 'Passes its input on to every outgoing branch at once.',
	configSchema: parallelConfigSchema,
	inline: true,
	branches: () => 'none',
	async execute(context) {
		return { type: 'succeeded', output: context.input };
	}
};
