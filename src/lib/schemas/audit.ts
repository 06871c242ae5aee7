// Audit log filters from a query string, shared by the admin page, its CSV export and the API.
import { z } from 'zod';

export const auditPageSize = 100;

/** What the audit service filters by. */
export interface AuditQuery {
	actorUserId?: string;
	action?: string;
	from?: Date;
	to?: Date;
	beforeId?: number;
	limit?: number;
}

const filterNames = ['action', 'actor', 'from', 'to', 'before'] as const;
export type AuditFilterValues = Record<(typeof filterNames)[number], string>;

/** Blank query parameters mean "no filter". */
const blankToUndefined = (value: unknown) =>
	typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/** A calendar day as YYYY-MM-DD (no rollover: 2025-02-30 is refused). */
function isDay(value: string): boolean {
	const time = Date.parse(`${value}T00:00:00Z`);
	return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === value;
}

const day = z
	.string()
	.regex(/^\d{4}-\d{2}-\d{2}$/, 'Use a date like 2025-01-31.')
	.refine(isDay, 'Not a valid date.');

const filterSchema = z
	.object({
		action: z.preprocess(blankToUndefined, z.string().max(100, 'Too long.').optional()),
		actor: z.preprocess(blankToUndefined, z.guid('Enter a user id (a UUID).').optional()),
		from: z.preprocess(blankToUndefined, day.optional()),
		to: z.preprocess(blankToUndefined, day.optional()),
		before: z.preprocess(
			blankToUndefined,
			z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional()
		)
	})
	.refine(({ from, to }) => !from || !to || !isDay(from) || !isDay(to) || from <= to, {
		path: ['to'],
		message: 'The end date is before the start date.'
	});

/**
 * Reads the audit filters from a query string (dates are whole UTC days, both ends included).
 * Invalid input is reported per field rather than thrown.
 */
export function readAuditFilters(
	params: URLSearchParams
):
	| { ok: true; values: AuditFilterValues; query: AuditQuery }
	| { ok: false; values: AuditFilterValues; fields: Record<string, string> } {
	const values = Object.fromEntries(
		filterNames.map((name) => [name, params.get(name) ?? ''])
	) as AuditFilterValues;
	const result = filterSchema.safeParse(values);
	if (!result.success) {
		const fields: Record<string, string> = {};
		for (const issue of result.error.issues)
			fields[String(issue.path[0] ?? 'form')] ??= issue.message;
		return { ok: false, values, fields };
	}
	const { action, actor, from, to, before } = result.data;
	return {
		ok: true,
		values,
		query: {
			action,
			actorUserId: actor,
			from: from ? new Date(`${from}T00:00:00.000Z`) : undefined,
			to: to ? new Date(`${to}T23:59:59.999Z`) : undefined,
			beforeId: before
		}
	};
}

/** The query string for the same filters, optionally paged (blank filters left out). */
export function filterQuery(values: AuditFilterValues, before?: number): string {
	const params = new URLSearchParams();
	for (const name of filterNames)
		if (name !== 'before' && values[name].trim()) params.set(name, values[name].trim());
	if (before !== undefined) params.set('before', String(before));
	return params.toString();
}
