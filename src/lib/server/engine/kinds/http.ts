import { z } from 'zod';
import type { TemplateEncoding } from '../expressions.ts';
import { OutboundHttpError, type GuardedHttp } from '../../outbound/guarded-http.ts';
import { renderForStep, templateProblems, templateSchema } from './step-expressions.ts';
import { StepFailure, type ConfigProblem, type NodeKind, type StepContext } from './types.ts';

/** A credential resolved host-side: the headers it sets, and the values to conceal. */
export interface CredentialUse {
	headers: Record<string, string>;
	/** The secret itself first, then other spellings of it (Basic `user:password`). */
	secrets: string[];
}

export type CredentialResolver = (
	workspaceId: string,
	credentialId: string
) => Promise<CredentialUse>;

export interface HttpKindDeps {
	http: GuardedHttp;
	credentials: CredentialResolver;
}

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
const headerName = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;
const maxTimeoutMs = 300_000;

/** Control characters other than tab: in a header, a line break would start another header. */
function hasControlCharacter(value: string): boolean {
	for (let index = 0; index < value.length; index += 1) {
		const code = value.charCodeAt(index);
		if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
	}
	return false;
}

// Header values travel as bytes, one per character, so nothing beyond Latin-1 fits.
const beyondLatin1 = /[\u0100-\uffff]/;

const noControlCharacters = (schema: z.ZodString) =>
	schema.refine(
		(value) => !hasControlCharacter(value),
		'Use no line breaks or control characters.'
	);

export const httpConfigSchema = z
	.object({
		method: z.enum(methods, { error: `Use one of ${methods.join(', ')}.` }).default('GET'),
		/** A `{{ path }}` template, values percent-encoded; the result must be an http or https URL. */
		url: templateSchema,
		/** Templates, values inserted as text; a value with a line break fails the step. */
		headers: z
			.record(
				z.string().regex(headerName, 'Use a valid header name.'),
				noControlCharacters(z.string().max(8_000, 'Use at most 8,000 characters.'))
			)
			.default({}),
		/** A template sent as the request body (not for GET and HEAD), encoded for its content type. */
		body: z.string().max(1_000_000, 'Use at most 1,000,000 characters.').optional(),
		contentType: noControlCharacters(z.string().min(1).max(200)).default('application/json'),
		/** A workspace credential applied to the request host-side; its value is never recorded. */
		credentialId: z.uuid('Choose a credential.').optional(),
		/** How the response body is read: JSON, text, or JSON when the response says it is. */
		response: z
			.enum(['auto', 'json', 'text'], { error: 'Use auto, json or text.' })
			.default('auto'),
		/** Whether a 4xx/5xx answer fails the step (429 and 5xx are retried). */
		failOnStatus: z.boolean().default(true),
		timeoutMs: z
			.number()
			.int()
			.min(100, 'Use at least 100 ms.')
			.max(maxTimeoutMs, `Use at most ${maxTimeoutMs} ms.`)
			.default(30_000)
	})
	.strict();

export type HttpConfig = z.infer<typeof httpConfigSchema>;

/** How the body's values are encoded: as JSON, as form fields, or (any other type) as text. */
function bodyEncoding(contentType: string): TemplateEncoding {
	const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
	if (mediaType === 'application/x-www-form-urlencoded') return 'form';
	const subtype = mediaType.split('/')[1] ?? '';
	return subtype === 'json' || subtype.endsWith('+json') ? 'json' : 'text';
}

/** The content type header's own name in `headers`, whatever its case. */
function contentTypeHeader(headers: Record<string, string>): string | undefined {
	return Object.keys(headers).find((name) => name.toLowerCase() === 'content-type');
}

function checkHttpConfig(config: HttpConfig): ConfigProblem[] {
	const problems = [
		...templateProblems('url', config.url, 'url'),
		...Object.entries(config.headers).flatMap(([name, value]) =>
			templateProblems(`headers.${name}`, value)
		)
	];
	const typeHeader = contentTypeHeader(config.headers);
	const contentType = typeHeader === undefined ? config.contentType : config.headers[typeHeader];
	if (config.body !== undefined && typeHeader !== undefined && contentType?.includes('{{')) {
		problems.push({
			path: `headers.${typeHeader}`,
			message: "Write the content type without {{ }}: it decides how the body's values are encoded."
		});
	} else if (config.body !== undefined) {
		problems.push(...templateProblems('body', config.body, bodyEncoding(contentType ?? '')));
	}
	if (config.body !== undefined && (config.method === 'GET' || config.method === 'HEAD')) {
		problems.push({ path: 'body', message: `A ${config.method} request has no body.` });
	}
	for (const name of Object.keys(config.headers)) {
		if (name.toLowerCase() === 'idempotency-key') {
			problems.push({
				path: `headers.${name}`,
				message: 'The step sends its own Idempotency-Key.'
			});
		}
	}
	return problems;
}

/** A rendered header value: a value may not add a line (another header) or hold what bytes cannot. */
function checkedHeaderValue(name: string, value: string): string {
	// The messages never quote the value: it may hold a secret.
	if (hasControlCharacter(value)) {
		throw new StepFailure(
			'invalid_header',
			`The ${name} header's value has a line break or another control character, so it is not sent.`,
			{ retryable: false }
		);
	}
	if (beyondLatin1.test(value)) {
		throw new StepFailure(
			'invalid_header',
			`The ${name} header's value has characters beyond Latin-1, which a header cannot carry.`,
			{ retryable: false }
		);
	}
	return value;
}

function responseBody(config: HttpConfig, contentType: string, body: Buffer): unknown {
	const text = body.toString('utf8');
	const json =
		config.response === 'json' || (config.response === 'auto' && /\bjson\b/i.test(contentType));
	if (!json) return text;
	try {
		return JSON.parse(text) as unknown;
	} catch {
		if (config.response === 'auto') return text;
		throw new StepFailure('invalid_json', 'The response body is not JSON.', { retryable: false });
	}
}

/** The `http` node: one request through the guarded client, with the step's idempotency key. */
export function createHttpKind(deps: HttpKindDeps): NodeKind<HttpConfig> {
	return {
		kind: 'http',
		description: 'Sends an HTTP request (private addresses blocked) and outputs the response.',
		configSchema: httpConfigSchema,
		branches: () => 'none',
		checkConfig: checkHttpConfig,
		async execute(context: StepContext, config: HttpConfig) {
			const url = renderForStep(context, config.url, 'url');
			const headers: Record<string, string> = {};
			for (const [name, value] of Object.entries(config.headers)) {
				headers[name] = checkedHeaderValue(name, renderForStep(context, value));
			}
			let body: string | undefined;
			if (config.body !== undefined) {
				// One content type, whatever the case of a header that sets it; it picks the encoding.
				const typeHeader = contentTypeHeader(headers) ?? 'content-type';
				const contentType = (headers[typeHeader] ??= config.contentType);
				body = renderForStep(context, config.body, bodyEncoding(contentType));
			}
			if (config.credentialId !== undefined) {
				const credential = await deps.credentials(context.workspaceId, config.credentialId);
				context.conceal(credential.secrets);
				// The credential's headers replace any of the same name, whatever their case.
				const replaced = new Set(Object.keys(credential.headers).map((name) => name.toLowerCase()));
				for (const name of Object.keys(headers)) {
					if (replaced.has(name.toLowerCase())) delete headers[name];
				}
				Object.assign(headers, credential.headers);
			}
			headers['idempotency-key'] = context.idempotencyKey;
			let response;
			try {
				response = await deps.http.request({
					method: config.method,
					url,
					headers,
					body,
					signal: context.signal,
					timeoutMs: config.timeoutMs
				});
			} catch (error) {
				if (!(error instanceof OutboundHttpError)) throw error;
				// Refusals are final; a network failure or a timeout may pass.
				const retryable = ['timeout', 'connect_failed', 'dns_failed', 'response_failed'].includes(
					error.code
				);
				throw new StepFailure(`http_${error.code}`, error.message, { retryable });
			}
			const contentType = response.headers.get('content-type') ?? '';
			const output = {
				status: response.status,
				headers: Object.fromEntries(
					[...response.headers].filter(([name]) => name !== 'set-cookie')
				),
				body: config.method === 'HEAD' ? null : responseBody(config, contentType, response.body),
				url: response.url
			};
			if (config.failOnStatus && response.status >= 400) {
				throw new StepFailure('http_status', `The server answered ${response.status}.`, {
					retryable: response.status === 429 || response.status >= 500
				});
			}
			return { type: 'succeeded', output };
		}
	};
}
