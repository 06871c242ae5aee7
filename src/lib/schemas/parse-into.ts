import { z } from 'zod';

/**
 * For a form schema's transform: `value`, built from the form's text fields, parsed by the API's
 * own schema, its issues reported to the form under their paths (`rename` maps them to the form's
 * field names where the two differ).
 */
export function parseInto<T>(
	schema: z.ZodType<T>,
	value: unknown,
	context: z.RefinementCtx,
	rename: (path: PropertyKey[]) => PropertyKey[] = (path) => path
): T {
	const parsed = schema.safeParse(value);
	if (parsed.success) return parsed.data;
	for (const issue of parsed.error.issues)
		context.addIssue({ code: 'custom', path: rename(issue.path), message: issue.message });
	return z.NEVER;
}
