import { z } from 'zod';
import { evaluateForStep, expressionProblems, expressionSchema } from './step-expressions.ts';
import { StepFailure, type NodeKind, type StepContext, type StepOutcome } from './types.ts';

const subworkflowConfigSchema = z
	.object({
		workflowId: z.uuid('Choose a workflow.'),
		/** A pinned version; without it, the version published when the child run starts. */
		versionId: z.uuid('Choose a version.').optional(),
		/** JSONata giving the child run's input; without it, the step input. */
		input: expressionSchema.optional()
	})
	.strict();

type SubworkflowConfig = z.infer<typeof subworkflowConfigSchema>;

async function startChild(context: StepContext, config: SubworkflowConfig): Promise<StepOutcome> {
	const input =
		config.input === undefined ? context.input : await evaluateForStep(context, config.input);
	return {
		type: 'wait',
		until: null,
		state: { started: true },
		effect: {
			type: 'child-run',
			workflowId: config.workflowId,
			versionId: config.versionId ?? null,
			input
		}
	};
}

async function awaitChild(context: StepContext): Promise<StepOutcome> {
	const child = await context.lookup.childRun();
	if (child === null) {
		throw new StepFailure('child_run_missing', 'The child run of this step is gone.', {
			retryable: false
		});
	}
	if (child.status === 'succeeded') return { type: 'succeeded', output: child.output };
	if (child.status === 'failed' || child.status === 'cancelled') {
		const reason = child.error === null ? '' : `: ${child.error.message}`;
		throw new StepFailure('child_run_failed', `Child run ${child.id} ${child.status}${reason}`, {
			retryable: false
		});
	}
	return { type: 'wait', until: null, state: { started: true } };
}

export const subworkflowKind: NodeKind<SubworkflowConfig> = {
	kind: 'subworkflow',
	description: 'Runs another workflow and waits for its output.',
	configSchema: subworkflowConfigSchema,
	branches: () => 'none',
	checkConfig: (config) => expressionProblems('input', config.input),
	execute: (context, config) =>
		context.state === null ? startChild(context, config) : awaitChild(context)
};
