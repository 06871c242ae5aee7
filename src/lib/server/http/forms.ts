import { fail, redirect, type RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import { findUnstorable, storableText } from '../../schemas/storable.ts';
import { ServiceError } from '../errors.ts';
import type { Principal, RequestMeta } from '../principal.ts';
import type { ServiceContext } from '../services/context.ts';

export function requestMeta(
	event: Pick<RequestEvent, 'getClientAddress' | 'request'>
): RequestMeta {
	let ip: string | null = null;
	try {
		ip = event.getClientAddress();
	} catch {
		// No socket behind the request (tests, prerendering).
	}
	return { ip, userAgent: event.request.headers.get('user-agent') };
}

/** The signed-in principal, or a redirect to the sign-in page. The guard has usually done this already. */
export function requirePrincipal(event: Pick<RequestEvent, 'locals' | 'url'>): Principal {
	const principal = event.locals.principal;
	if (principal === null)
		redirect(303, `/login?redirectTo=${encodeURIComponent(event.url.pathname)}`);
	return principal;
}

export type FormFailure = {
	message: string;
	fields: Record<string, string>;
	values: Record<string, string>;
};

/**
 * The fields a failed submit sends back: named, or picked by a test on each field name the form
 * sent (for forms whose field names are built from ids, one checkbox per tool, say).
 */
export type FormEcho = readonly string[] | ((field: string) => boolean);

/** Parses a form with a zod schema; on failure returns the `fail()` to hand back, with the input echoed. */
export async function parseForm<T extends z.ZodType>(
	request: Request,
	schema: T,
	echo: FormEcho = []
): Promise<
	| { data: z.infer<T>; values: Record<string, string> }
	| { failure: ReturnType<typeof fail<FormFailure>> }
> {
	let form: FormData;
	try {
		form = await request.formData();
	} catch (error) {
		// Not form data (text/plain passes the framework's check), or over BODY_SIZE_LIMIT.
		const tooLarge = (error as { status?: unknown } | null)?.status === 413;
		const message = tooLarge
			? 'The form is larger than this server accepts.'
			: 'Forms are sent as application/x-www-form-urlencoded or multipart/form-data.';
		return { failure: fail(tooLarge ? 413 : 415, { message, fields: {}, values: {} }) };
	}
	const raw: Record<string, unknown> = {};
	for (const key of new Set(form.keys())) {
		const all = form.getAll(key).filter((value): value is string => typeof value === 'string');
		raw[key] = all.length > 1 ? all : all[0];
	}
	const echoed = typeof echo === 'function' ? Object.keys(raw).filter(echo) : echo;
	const values = Object.fromEntries(
		echoed.map((key) => [key, typeof raw[key] === 'string' ? storableText(raw[key]) : ''])
	);
	const unstorable = findUnstorable(raw);
	if (unstorable !== null) {
		const field = unstorable.path.split('.')[0] ?? 'form';
		return {
			failure: fail(400, {
				message: 'Please correct the highlighted fields.',
				fields: { [field]: unstorable.message },
				values
			})
		};
	}
	const result = schema.safeParse(raw);
	if (result.success) return { data: result.data, values };
	const fields: Record<string, string> = {};
	for (const issue of result.error.issues)
		fields[String(issue.path[0] ?? 'form')] ??= issue.message;
	return {
		failure: fail(400, { message: 'Please correct the highlighted fields.', fields, values })
	};
}

/**
 * Expected service failures become a form message; anything else goes to the error page. Pass the
 * event's `setHeaders` so a throttled request also carries Retry-After.
 */
export function formError(
	error: unknown,
	values: Record<string, string> = {},
	setHeaders?: RequestEvent['setHeaders']
) {
	if (error instanceof ServiceError) {
		if (error.retryAfterSeconds && setHeaders)
			setHeaders({ 'retry-after': String(error.retryAfterSeconds) });
		return fail(error.status, { message: error.message, fields: error.fields, values });
	}
	throw error;
}

export type ActionContext<T> = {
	principal: Principal;
	services: ServiceContext;
	meta: RequestMeta;
	data: T;
};

/**
 * The shape of every signed-in form action: parse the form, call one service, and turn an expected
 * failure into a form message (with the named fields echoed). Redirects thrown by `run` pass through.
 */
export async function runFormAction<T extends z.ZodType, R>(
	event: RequestEvent,
	schema: T,
	echo: FormEcho,
	run: (context: ActionContext<z.infer<T>>) => Promise<R>
) {
	const principal = requirePrincipal(event);
	const parsed = await parseForm(event.request, schema, echo);
	if ('failure' in parsed) return parsed.failure;
	try {
		const { services } = event.locals.runtime;
		return await run({ principal, services, meta: requestMeta(event), data: parsed.data });
	} catch (error) {
		return formError(error, parsed.values, event.setHeaders);
	}
}
