import type { RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from '../services/context.ts';
import { requestMeta } from './forms.ts';
import { problem, problemFromError } from './problem.ts';

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
		if (error instanceof BodyError) return problem(error.status, 'invalid-body', error.message);
		return problemFromError(error);
	}
}

/** A JSON body parsed by a zod schema into an explicit shape: unknown fields are dropped, never assigned. */
export async function readJson<T extends z.ZodType>(
	request: Request,
	schema: T
): Promise<z.infer<T>> {
	const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
	if (type !== 'application/json') throw new BodyError(415, 'Send the body as application/json.');
	let body: unknown;
	try {
		body = await request.json();
	} catch {
		throw new BodyError(400, 'The body is not valid JSON.');
	}
	return schema.parse(body);
}

export class BodyError extends Error {
	readonly status: number;
	constructor(status: number, message: string) {
		super(message);
		this.status = status;
	}
}
