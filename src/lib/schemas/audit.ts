import { z } from 'zod';

const optionalText = z.preprocess(
	(value) => (value === '' ? undefined : value),
	z.string().trim().max(200).optional()
);
const optionalDate = z.preprocess(
	(value) => (value === '' ? undefined : value),
	z.coerce.date({ error: 'Use a date such as 2026-11-23 or 2026-11-23T10:00:00Z.' }).optional()
);

/** Audit log filters, from a query string. */
export const auditQuerySchema = z.object({
	action: optionalText,
	actorUserId: z.preprocess(
		(value) => (value === '' ? undefined : value),
		z.uuid({ error: 'Not a user id.' }).optional()
	),
	from: optionalDate,
	to: optionalDate,
	beforeId: z.coerce.number().int().positive().optional(),
	limit: z.coerce.number().int().min(1).max(1000).default(100)
});
