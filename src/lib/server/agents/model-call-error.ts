import { OutboundHttpError, type OutboundHttpErrorCode } from '../outbound/guarded-http.ts';

export type ModelCallErrorCode =
	| 'rate_limited'
	| 'provider_error'
	| 'timeout'
	| 'aborted'
	| 'blocked_address'
	| 'invalid_response'
	| 'auth_failed';

/** Why a model call failed. The message is safe to store and show: it never holds the API key. */
export class ModelCallError extends Error {
	override name = 'ModelCallError';
	readonly code: ModelCallErrorCode;
	/** Whether the same call may succeed later (rate limits, server errors, network faults). */
	readonly retryable: boolean;
	/** What the provider asked for in Retry-After (or retry-after-ms), when it did. */
	readonly retryAfterMs: number | undefined;

	constructor(
		code: ModelCallErrorCode,
		message: string,
		options: { retryable?: boolean; retryAfterMs?: number } = {}
	) {
		super(message);
		this.code = code;
		this.retryable = options.retryable ?? false;
		this.retryAfterMs = options.retryAfterMs;
	}
}

const retryableOutbound = new Set<OutboundHttpErrorCode>([
	'dns_failed',
	'connect_failed',
	'tls_failed',
	'response_failed'
]);
/** The SDK's errors for a body it could not read as the provider's format. */
const invalidResponseErrors = new Set([
	'AI_JSONParseError',
	'AI_TypeValidationError',
	'AI_NoOutputGeneratedError',
	'AI_NoObjectGeneratedError',
	'AI_InvalidResponseDataError',
	'ScriptedModelError'
]);
const longestProviderMessage = 300;

/**
 * The ModelCallError for whatever a provider call threw: the SDK's APICallError (status, headers,
 * provider message), the guarded client's OutboundHttpError (possibly wrapped as a cause), a parse
 * error, or an abort. `redact` removes the API key from any text taken from the provider.
 */
export function modelCallError(
	error: unknown,
	redact: (text: string) => string,
	signal?: AbortSignal
): ModelCallError {
	if (error instanceof ModelCallError) return error;
	if (signal?.aborted) return new ModelCallError('aborted', 'The model call was cancelled.');
	const outbound = causes(error).find((cause) => cause instanceof OutboundHttpError);
	if (outbound instanceof OutboundHttpError) return fromOutbound(outbound);
	const { name, statusCode, responseHeaders, message } = (error ?? {}) as {
		name?: unknown;
		statusCode?: unknown;
		responseHeaders?: Record<string, string>;
		message?: unknown;
	};
	if (typeof name === 'string' && invalidResponseErrors.has(name)) {
		return new ModelCallError(
			'invalid_response',
			'The provider sent a response it could not read.'
		);
	}
	if (name === 'AbortError' || name === 'TimeoutError') {
		return new ModelCallError('aborted', 'The model call was cancelled.');
	}
	const said = providerMessage(message, redact);
	if (typeof statusCode !== 'number') {
		return new ModelCallError('provider_error', `The model call failed${said}.`);
	}
	if (statusCode < 300) {
		return new ModelCallError(
			'invalid_response',
			'The provider sent a response it could not read.'
		);
	}
	if (statusCode === 401 || statusCode === 403) {
		return new ModelCallError(
			'auth_failed',
			`The provider refused the credentials (${statusCode})${said}.`
		);
	}
	const retryAfterMs = retryAfter(responseHeaders);
	if (statusCode === 429) {
		return new ModelCallError('rate_limited', `The provider is rate limiting (429)${said}.`, {
			retryable: true,
			retryAfterMs
		});
	}
	return new ModelCallError('provider_error', `The provider answered ${statusCode}${said}.`, {
		retryable: statusCode >= 500 || statusCode === 408 || statusCode === 409,
		retryAfterMs
	});
}

function fromOutbound(error: OutboundHttpError): ModelCallError {
	switch (error.code) {
		case 'blocked_address':
			return new ModelCallError('blocked_address', error.message);
		case 'timeout':
			return new ModelCallError('timeout', error.message, { retryable: true });
		case 'aborted':
			return new ModelCallError('aborted', 'The model call was cancelled.');
		case 'response_too_large':
			return new ModelCallError('invalid_response', error.message);
		default:
			return new ModelCallError('provider_error', error.message, {
				retryable: retryableOutbound.has(error.code)
			});
	}
}

/** The error and its causes, outermost first. */
function causes(error: unknown): unknown[] {
	const chain: unknown[] = [];
	for (let current = error; current instanceof Error && !chain.includes(current);) {
		chain.push(current);
		current = current.cause;
	}
	return chain;
}

function providerMessage(message: unknown, redact: (text: string) => string): string {
	if (typeof message !== 'string' || message === '') return '';
	const text = redact(message).replace(/\s+/g, ' ').trim();
	const short =
		text.length > longestProviderMessage ? `${text.slice(0, longestProviderMessage)}…` : text;
	return `: ${short.replace(/\.$/, '')}`;
}

/** Retry-After as seconds or an HTTP date, or retry-after-ms (OpenAI), in milliseconds. */
function retryAfter(headers: Record<string, string> | undefined): number | undefined {
	const milliseconds = Number(headers?.['retry-after-ms']);
	if (headers?.['retry-after-ms'] !== undefined && Number.isFinite(milliseconds)) {
		return Math.max(0, milliseconds);
	}
	const value = headers?.['retry-after'];
	if (value === undefined) return undefined;
	const seconds = Number(value);
	if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
	const date = Date.parse(value);
	return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
