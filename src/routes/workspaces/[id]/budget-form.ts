import { z } from 'zod';
import { workspaceBudgetSchema } from '$lib/schemas/agents';

export const budgetFields = ['monthlyCostLimitUsd', 'monthlyTokenLimit'] as const;

// Empty means no limit; anything else must be a number the API would take.
const limit = z
	.string()
	.optional()
	.transform((value) => (value === undefined || value.trim() === '' ? null : Number(value)));

/** The budget form: both limits as text, then the API's own schema. */
export const budgetFormSchema = z
	.object({ monthlyCostLimitUsd: limit, monthlyTokenLimit: limit })
	.pipe(workspaceBudgetSchema);
