// Bodies, query strings and headers of the workflow, run and approval endpoints of /api/v1.
import { z } from 'zod';
import { runStatuses } from './run-status.ts';
import { workflowMetaSchema } from './workflow.ts';

/** Largest value of a Postgres `integer` column: version numbers and event sequence numbers. */
const maxInteger = 2_147_483_647;

const versionNumberSchema = z.coerce
	.number({ error: 'Enter a version number.' })
	.int('Enter a version number.')
	.min(1, 'Versions are numbered from 1.')
	.max(maxInteger, 'No such version.');

/** A version number from a URL segment, or null when the segment cannot name one. */
export function versionNumberParam(segment: string): number | null {
	const parsed = versionNumberSchema.safeParse(/^\d+$/.test(segment) ? segment : undefined);
	return parsed.success ? parsed.data : null;
}

export const createWorkflowSchema = workflowMetaSchema.extend({
	/** Without it, the workflow starts as input → output. */
	definition: z.unknown().optional()
});

/** At least one of the two; what is left out keeps its value (so no default for the description). */
export const updateWorkflowSchema = z
	.object({
		name: workflowMetaSchema.shape.name.optional(),
		description: workflowMetaSchema.shape.description.unwrap().optional()
	})
	.refine((patch) => patch.name !== undefined || patch.description !== undefined, {
		message: 'Send a name, a description or both.'
	});

export const validateDefinitionSchema = z.object({ definition: z.unknown() });

export const saveVersionSchema = z.object({
	definition: z.unknown(),
	note: z.string().trim().max(500, 'Use at most 500 characters.').default(''),
	publish: z.boolean().default(false)
});

export const diffQuerySchema = z.object({ from: versionNumberSchema, to: versionNumberSchema });

export const exportQuerySchema = z.object({ version: versionNumberSchema.optional() });

/** Strict: a run's input misplaced beside `input` (`{"n": 3}`) is refused, not dropped. */
export const startRunSchema = z.strictObject(
	{
		input: z.record(z.string(), z.unknown()).default({}),
		/** A version number; the published version when absent. */
		version: z.number().int().min(1).max(maxInteger).optional()
	},
	{
		error: (issue) =>
			issue.code === 'unrecognized_keys'
				? `Unknown field ${issue.keys.map((key) => `"${key}"`).join(', ')}: the run's input goes under "input", e.g. {"input": {…}}.`
				: undefined
	}
);

/** Printable ASCII (what Stripe and the IETF draft allow), so keys survive any proxy unchanged. */
export const startRunHeadersSchema = z.object({
	'idempotency-key': z
		.string()
		.regex(/^[\x20-\x7e]{1,255}$/, 'Use 1–255 printable ASCII characters.')
		.optional()
});

// Mirrors the `trigger` column of runs; the route's types check that the two agree.
export const runTriggers = ['manual', 'api', 'webhook', 'schedule', 'workflow', 'rerun'] as const;

const blankToUndefined = (value: unknown) =>
	typeof value === 'string' && value.trim() === '' ? undefined : value;

export const listRunsQuerySchema = z.object({
	workflowId: z.preprocess(blankToUndefined, z.guid('Enter a workflow id.').optional()),
	/** Comma-separated, e.g. `status=failed,cancelled`. */
	status: z.preprocess(
		(value) => (typeof value === 'string' && value !== '' ? value.split(',') : undefined),
		z.array(z.enum(runStatuses, { error: `Use ${runStatuses.join(', ')}.` })).optional()
	),
	trigger: z.preprocess(
		blankToUndefined,
		z.enum(runTriggers, { error: `Use ${runTriggers.join(', ')}.` }).optional()
	),
	/** The last run id of the previous page (`next`). */
	before: z.preprocess(blankToUndefined, z.guid('Enter a run id.').optional()),
	limit: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(200).optional())
});

export const runEventsQuerySchema = z.object({
	afterSeq: z.preprocess(
		blankToUndefined,
		z.coerce.number().int().min(0).max(maxInteger).default(0)
	)
});

export const rerunSchema = z.object({
	fromNodeId: z.string().min(1).max(64),
	/** Replaces the recorded input of the step re-run from. */
	input: z.unknown().optional()
});

export const approvalStatuses = [
	'pending',
	'approved',
	'rejected',
	'expired',
	'cancelled'
] as const;

export const listApprovalsQuerySchema = z.object({
	status: z.preprocess(
		blankToUndefined,
		z.enum(approvalStatuses, { error: `Use ${approvalStatuses.join(', ')}.` }).optional()
	)
});

export const approvalDecisionSchema = z.object({
	decision: z.enum(['approve', 'reject'], { error: 'Use approve or reject.' }),
	comment: z.string().trim().max(2_000, 'Use at most 2,000 characters.').default('')
});
