import { z } from 'zod';
import { providerKinds } from './agents.ts';

export const usageGroupings = ['workflow', 'model', 'day'] as const;

/** The longest span one read-out covers, so a grouping by day stays a few hundred rows. */
export const maxUsageSpanDays = 400;

/** A day (`2026-03-01`, from midnight UTC) or an instant with its offset. */
const instant = z
	.union([z.iso.date(), z.iso.datetime({ offset: true })], {
		error: 'Give a date (YYYY-MM-DD) or a date-time with its offset.'
	})
	.transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value));

/** `GET /usage`: from (inclusive) and to (exclusive); this calendar month (UTC) when absent. */
export const usageQuerySchema = z
	.object({
		from: instant.optional(),
		to: instant.optional(),
		groupBy: z
			.enum(usageGroupings, { error: `Choose ${usageGroupings.join(', ')}.` })
			.default('day')
	})
	.strict();
export type UsageQuery = z.infer<typeof usageQuerySchema>;

/** A model price to delete: `DELETE /admin/model-prices?providerKind&model`. */
export const modelPriceKeySchema = z
	.object({
		providerKind: z.enum(providerKinds, { error: `Choose ${providerKinds.join(', ')}.` }),
		model: z.string({ error: 'Required.' }).min(1, 'Required.').max(200)
	})
	.strict();
