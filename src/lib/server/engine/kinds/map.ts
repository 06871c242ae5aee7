import { z } from 'zod';
import { retryPolicySchema, workflowNodeSchema } from '../../../schemas/workflow.ts';
import { evaluateForStep, expressionProblems, expressionSchema } from './step-expressions.ts';
import { StepFailure, type NodeKind, type StepContext, type StepOutcome } from './types.ts';

// Each item becomes a step of its own; beyond this a run's step table grows unreasonably.
const maxItems = 10_000;

const mapConfigSchema = z
	.object({
		/** JSONata giving the array to iterate over. */
		items: expressionSchema,
		concurrency: z
			.number({ error: 'Enter a whole number from 1 to 100.' })
			.int('Enter a whole number from 1 to 100.')
			.min(1, 'Run at least 1 iteration at a time.')
			.max(100, 'Run at most 100 iterations at a time.')
			.default(4),
		/** What each item runs; its kind and config are checked by the definition validator. */
		node: z
			.object(
				{
					kind: workflowNodeSchema.shape.kind,
					config: workflowNodeSchema.shape.config,
					retry: retryPolicySchema.optional(),
					timeoutMs: workflowNodeSchema.shape.timeoutMs
				},
				{ error: 'Describe the node each item runs.' }
			)
			.strict()
	})
	.strict();

export type MapConfig = z.infer<typeof mapConfigSchema>;

const mapStateSchema = z.object({ count: z.number().int().min(1) });

function describeType(value: unknown): string {
	return value === null ? 'null' : typeof value;
}

async function startIterations(context: StepContext, config: MapConfig): Promise<StepOutcome> {
	const items = await evaluateForStep(context, config.items);
	if (!Array.isArray(items)) {
		throw new StepFailure(
			'map_items_not_array',
			`The items expression gave ${describeType(items)}, not an array.`,
			{ retryable: false }
		);
	}
	if (items.length > maxItems) {
		throw new StepFailure(
			'map_too_many_items',
			`The items expression gave ${items.length} items; a map takes at most ${maxItems}.`,
			{ retryable: false }
		);
	}
	if (items.length === 0) return { type: 'succeeded', output: [] };
	return {
		type: 'wait',
		until: null,
		state: { count: items.length },
		effect: { type: 'iterations', items, concurrency: config.concurrency }
	};
}

async function collectIterations(context: StepContext): Promise<StepOutcome> {
	const { count } = mapStateSchema.parse(context.state);
	const iterations = await context.lookup.iterations();
	for (const [index, iteration] of iterations.entries()) {
		if (iteration.status === 'failed' || iteration.status === 'cancelled') {
			const reason = iteration.error?.message ?? iteration.status;
			throw new StepFailure('map_iteration_failed', `Iteration ${index} failed: ${reason}`, {
				retryable: false
			});
		}
	}
	const done =
		iterations.length === count && iterations.every((step) => step.status === 'succeeded');
	if (!done) return { type: 'wait', until: null, state: { count } };
	return { type: 'succeeded', output: iterations.map((step) => step.output) };
}

export const mapKind: NodeKind<MapConfig> = {
	kind: 'map',
	description: 'Runs a node once per item of an array and collects the outputs in order.',
	configSchema: mapConfigSchema,
	branches: () => 'none',
	checkConfig: (config) => expressionProblems('items', config.items),
	execute: (context, config) =>
		context.state === null ? startIterations(context, config) : collectIterations(context)
};
