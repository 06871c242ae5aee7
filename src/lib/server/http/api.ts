import type { RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import { findUnstorable } from '../../schemas/storable.ts';
import { ServiceError } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from '../services/context.ts';
import { requestMeta } from './forms.ts';
import { issueFields, problem, problemFromError } from './problem.ts';

export type ApiContext = { principal: Principal; services: ServiceContext; meta: RequestMeta };

/**
 * Runs an /api/v1 handler for an authenticated principal (the guard has answered 401 already when
 * there is none) and turns expected failures into problem+json.
 */
export async function api(
	event: RequestEvent,
	run: (context: ApiContext) => Promise<Response>
): Promise<Response> {
	const principal = event.locals.principal;
	if (principal === null) return problem(401, 'unauthorized', 'Sign in or send an API token.');
	try {
		return await run({
			principal,
			services: event.locals.runtime.services,
			meta: requestMeta(event)
		});
	} catch (error) {
		if (error instanceof BodyError) return problem(error.status, error.type, error.message);
		return problemFromError(error);
	}
}

/**
 * A JSON body parsed by a zod schema into an explicit shape: unknown fields are dropped, never
 * assigned. Text PostgreSQL cannot store, and nesting too deep to store, are refused naming the field.
 */
export async function readJson<T extends z.ZodType>(
	request: Request,
	schema: T
): Promise<z.infer<T>> {
	const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
	if (type !== 'application/json') throw new BodyError(415, 'Send the body as application/json.');
	let text: string;
	try {
		text = await request.text();
	} catch (error) {
		// The Node adapter stops reading at BODY_SIZE_LIMIT with an error of status 413.
		if ((error as { status?: unknown } | null)?.status === 413) {
			throw new BodyError(413, 'The body is larger than this server accepts (BODY_SIZE_LIMIT).');
		}
		throw error;
	}
	let body: unknown;
	try {
		body = JSON.parse(text);
	} catch {
		throw new BodyError(400, 'The body is not valid JSON.');
	}
	// What cannot be stored is named beside what the schema refuses, so one answer lists it all.
	const unstorable = findUnstorable(body);
	const parsed = schema.safeParse(body);
	if (unstorable === null && parsed.success) return parsed.data;
	const fields = parsed.success ? {} : issueFields(parsed.error);
	if (unstorable !== null) fields[unstorable.path] = unstorable.message;
	throw new ServiceError('invalid', 'The request body is not valid.', { fields });
}

export class BodyError extends Error {
	readonly status: 400 | 413 | 415;
	readonly type: string;

	constructor(status: 400 | 413 | 415, message: string) {
		super(message);
		this.status = status;
		this.type = status === 413 ? 'too-large' : 'invalid-body';
	}
}
