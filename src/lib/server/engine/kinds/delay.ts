import { z } from 'zod';
import { durationSchema } from './duration.ts';
import { renderForStep, templateProblems } from './step-expressions.ts';
import { StepFailure, type NodeKind, type StepContext } from './types.ts';

const isoDateTimeSchema = z.iso.datetime({ offset: true });
const untilHint = 'an ISO date-time with a time zone, such as 2030-01-01T09:00:00Z';

const delayConfigSchema = z
	.object({
		/** In milliseconds once parsed. */
		duration: durationSchema.optional(),
		/** An ISO date-time, or a template resolved when the step runs. */
		until: z
			.string({ error: 'Enter a date-time.' })
			.max(1_000, 'Use at most 1,000 characters.')
			.refine((text) => text.includes('{{') || isoDateTimeSchema.safeParse(text).success, {
				message: `Use ${untilHint}, or a {{ path }} template giving one.`
			})
			.optional()
	})
	.strict()
	.superRefine((config, context) => {
		if ((config.duration === undefined) === (config.until === undefined)) {
			context.addIssue({ code: 'custom', message: 'Set either duration or until, not both.' });
		}
	});

type DelayConfig = z.infer<typeof delayConfigSchema>;

const delayStateSchema = z.object({ until: z.iso.datetime() });

function resolveUntil(context: StepContext, config: DelayConfig): Date {
	if (config.duration !== undefined) return new Date(context.now().getTime() + config.duration);
	const text = renderForStep(context, config.until ?? '');
	if (!isoDateTimeSchema.safeParse(text).success) {
		throw new StepFailure('invalid_until', `Delay until "${text}": use ${untilHint}.`, {
			retryable: false
		});
	}
	return new Date(text);
}

export const delayKind: NodeKind<DelayConfig> = {
	kind: 'delay',
	description: 'Waits for a duration or until a date-time, then passes its input on.',
	configSchema: delayConfigSchema,
	branches: () => 'none',
	checkConfig: (config) =>
		config.until?.includes('{{') ? templateProblems('until', config.until) : [],
	async execute(context, config) {
		const until =
			context.state === null
				? resolveUntil(context, config)
				: new Date(delayStateSchema.parse(context.state).until);
		if (context.state !== null && context.now() >= until) {
			return { type: 'succeeded', output: context.input };
		}
		return { type: 'wait', until, state: { until: until.toISOString() } };
	}
};
