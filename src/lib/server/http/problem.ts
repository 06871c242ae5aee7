import { ZodError, type z } from 'zod';
import { DefinitionError, ServiceError } from '../errors.ts';

/** RFC 9457 problem details with a stable `type` per kind of failure. */
export function problem(
	status: number,
	type: string,
	title: string,
	extra: Record<string, unknown> = {},
	headers: Record<string, string> = {}
): Response {
	return new Response(
		JSON.stringify({ type: `urn:awe:problem:${type}`, title, status, ...extra }),
		{
			status,
			headers: {
				'content-type': 'application/problem+json',
				'cache-control': 'no-store',
				...headers
			}
		}
	);
}

/** Each problem under the field it concerns; an unknown field is named itself. */
export function issueFields(error: ZodError): Record<string, string> {
	return Object.fromEntries(
		error.issues.flatMap((issue) =>
			(issue.code === 'unrecognized_keys'
				? issue.keys.map((key) => [...issue.path, key])
				: [issue.path]
			).map((path) => [path.join('.') || '(body)', issue.message])
		)
	);
}

/** Query parameters or headers parsed by a zod schema; invalid ones answer 400 naming each. */
export function parseParameters<T extends z.ZodType>(
	schema: T,
	values: URLSearchParams | Record<string, unknown>
): z.infer<T> {
	const parsed = schema.safeParse(
		values instanceof URLSearchParams ? Object.fromEntries(values) : values
	);
	if (parsed.success) return parsed.data;
	throw new ServiceError('invalid', 'The request parameters are not valid.', {
		fields: issueFields(parsed.error)
	});
}

/** Expected failures become problem+json; anything else is rethrown for the error hook. */
export function problemFromError(error: unknown): Response {
	if (error instanceof ServiceError) {
		const headers: Record<string, string> = error.retryAfterSeconds
			? { 'retry-after': String(error.retryAfterSeconds) }
			: {};
		const extra: Record<string, unknown> =
			Object.keys(error.fields).length > 0 ? { errors: error.fields } : {};
		// The editor marks each problem on its node and field.
		if (error instanceof DefinitionError) extra.problems = error.problems;
		return problem(error.status, error.type, error.message, extra, headers);
	}
	if (error instanceof ZodError) {
		return problem(400, 'invalid', 'The request body is not valid.', {
			errors: issueFields(error)
		});
	}
	throw error;
}
