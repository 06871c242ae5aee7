import { z } from 'zod';
import { durationSchema } from './duration.ts';
import { renderForStep, templateProblems, templateSchema } from './step-expressions.ts';
import { StepFailure, type NodeKind, type StepContext, type StepOutcome } from './types.ts';

const approvalConfigSchema = z
	.object({
		title: templateSchema.max(500, 'Use at most 500 characters.'),
		details: templateSchema.optional(),
		/** In milliseconds once parsed; without it the request waits for as long as the run may. */
		timeout: durationSchema.optional(),
		onTimeout: z
			.enum(['reject', 'approve', 'fail'], { error: 'Use reject, approve or fail.' })
			.default('reject')
	})
	.strict();

type ApprovalConfig = z.infer<typeof approvalConfigSchema>;

const approvalStateSchema = z.object({
	requested: z.literal(true),
	deadlineAt: z.iso.datetime().nullable()
});

function decided(
	context: StepContext,
	approved: boolean,
	decision: { comment: string; decidedBy: string | null; expired: boolean }
): StepOutcome {
	return {
		type: 'succeeded',
		output: { approved, ...decision, input: context.input },
		branch: approved ? 'approved' : 'rejected'
	};
}

async function awaitDecision(context: StepContext, config: ApprovalConfig): Promise<StepOutcome> {
	const state = approvalStateSchema.parse(context.state);
	const deadlineAt = state.deadlineAt === null ? null : new Date(state.deadlineAt);
	const approval = await context.lookup.approval();
	if (approval === null) {
		throw new StepFailure('approval_missing', 'The approval request of this step is gone.', {
			retryable: false
		});
	}
	const { status, comment, decidedBy } = approval;
	if (status === 'approved' || status === 'rejected') {
		return decided(context, status === 'approved', { comment, decidedBy, expired: false });
	}
	if (status === 'cancelled') {
		throw new StepFailure('approval_cancelled', 'The approval request was cancelled.', {
			retryable: false
		});
	}
	const expired = status === 'expired' || (deadlineAt !== null && context.now() >= deadlineAt);
	if (!expired) return { type: 'wait', until: deadlineAt, state };
	if (config.onTimeout === 'fail') {
		throw new StepFailure('approval_expired', 'Nobody decided before the approval deadline.', {
			retryable: false
		});
	}
	return decided(context, config.onTimeout === 'approve', {
		comment: '',
		decidedBy: null,
		expired: true
	});
}

export const approvalKind: NodeKind<ApprovalConfig> = {
	kind: 'approval',
	description: 'Asks a person to approve or reject, then follows that branch.',
	configSchema: approvalConfigSchema,
	branches: () => ['approved', 'rejected'],
	checkConfig: (config) => [
		...templateProblems('title', config.title),
		...templateProblems('details', config.details)
	],
	async execute(context, config) {
		if (context.state !== null) return awaitDecision(context, config);
		const deadlineAt =
			config.timeout === undefined ? null : new Date(context.now().getTime() + config.timeout);
		return {
			type: 'wait',
			until: deadlineAt,
			state: { requested: true, deadlineAt: deadlineAt?.toISOString() ?? null },
			effect: {
				type: 'approval',
				title: renderForStep(context, config.title),
				details: config.details === undefined ? '' : renderForStep(context, config.details),
				deadlineAt
			}
		};
	}
};
