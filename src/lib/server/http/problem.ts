import { ZodError } from 'zod';
import { ServiceError } from '../services/context.ts';

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

/** Expected failures become problem+json; anything else is rethrown for the error hook. */
export function problemFromError(error: unknown): Response {
	if (error instanceof ServiceError) {
		const headers: Record<string, string> = error.retryAfterSeconds
			? { 'retry-after': String(error.retryAfterSeconds) }
			: {};
		const extra = Object.keys(error.fields).length > 0 ? { errors: error.fields } : {};
		return problem(error.status, error.type, error.message, extra, headers);
	}
	if (error instanceof ZodError) {
		const errors = Object.fromEntries(
			error.issues.map((issue) => [issue.path.join('.') || '(body)', issue.message])
		);
		return problem(400, 'invalid', 'The request body is not valid.', { errors });
	}
	throw error;
}
