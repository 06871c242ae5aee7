import { z } from 'zod';
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

export const httpConfigSchema = z
	.object({
		method: z.enum(methods, { error: `Use one of ${methods.join(', ')}.` }).default('GET'),
		/** A `{{ path }}` template; the result must be an http or https URL. */
		url: templateSchema,
		headers: z
			.record(
				z.string().regex(headerName, 'Use a valid header name.'),
				z.string().max(8_000, 'Use at most 8,000 characters.')
			)
			.default({}),
		/** A template sent as the request body (not for GET and HEAD). */
		body: z.string().max(1_000_000, 'Use at most 1,000,000 characters.').optional(),
		contentType: z.string().min(1).max(200).default('application/json'),
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

function checkHttpConfig(config: HttpConfig): ConfigProblem[] {
	const problems = [
		...templateProblems('url', config.url),
		...Object.entries(config.headers).flatMap(([name, value]) =>
			templateProblems(`headers.${name}`, value)
		),
		...(config.body === undefined ? [] : templateProblems('body', config.body))
	];
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
			const headers: Record<string, string> = {};
			for (const [name, value] of Object.entries(config.headers)) {
				headers[name] = renderForStep(context, value);
			}
			const body = config.body === undefined ? undefined : renderForStep(context, config.body);
			if (body !== undefined) headers['content-type'] ??= config.contentType;
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
					url: renderForStep(context, config.url),
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
