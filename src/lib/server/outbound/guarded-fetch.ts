import { OutboundHttpError, type GuardedHttp, type OutboundStream } from './guarded-http.ts';

/** The standard `fetch` signature, which the AI SDK's providers accept as their transport. */
export type FetchFunction = (
	input: string | URL | Request,
	init?: RequestInit
) => Promise<Response>;

export interface GuardedFetchOptions {
	/** The longest wait for the response head or for the next body chunk. Default 120 s. */
	idleTimeoutMs?: number;
	/** For the whole exchange, body included; none by default, since a stream may run long. */
	timeoutMs?: number;
	/** The most a response body may hold; the guarded client's own cap still applies. */
	maxResponseBytes?: number;
}

/** Responses that carry no body: the Response constructor refuses one for them. */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` over the guarded client: same address checks, allow-list, redirect rules and size cap,
 * but the body streams as it arrives (server-sent events from model providers). An abort through
 * `init.signal` closes the connection at once and fails with the signal's reason, as fetch does.
 */
export function createGuardedFetch(
	http: GuardedHttp,
	options: GuardedFetchOptions = {}
): FetchFunction {
	const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
	return async (input, init = {}) => {
		const request = input instanceof Request ? input : null;
		const callerSignal = init.signal ?? request?.signal ?? undefined;
		const watch = exchangeSignal(callerSignal, idleTimeoutMs, options.timeoutMs);
		let stream: OutboundStream;
		try {
			stream = await http.open({
				method: init.method ?? request?.method,
				url: request?.url ?? input.toString(),
				headers: init.headers ?? request?.headers,
				body: outgoingBody(init.body ?? (request?.body ? await request.arrayBuffer() : null)),
				signal: watch.signal,
				maxResponseBytes: options.maxResponseBytes
			});
		} catch (error) {
			watch.dispose();
			throw error;
		}
		return streamedResponse(stream, watch);
	};
}

type ExchangeWatch = ReturnType<typeof exchangeSignal>;

/**
 * One signal for the exchange: the caller's abort, the optional whole-exchange deadline and the
 * idle timer, which runs only while the exchange waits for the server.
 */
function exchangeSignal(caller: AbortSignal | undefined, idleMs: number, totalMs?: number) {
	const controller = new AbortController();
	const follow = () => controller.abort(caller?.reason);
	if (caller?.aborted) follow();
	caller?.addEventListener('abort', follow, { once: true });
	const total =
		totalMs === undefined
			? undefined
			: setTimeout(() => {
					const message = `The request did not finish within ${totalMs} ms.`;
					controller.abort(new OutboundHttpError('timeout', message));
				}, totalMs);
	let idle: NodeJS.Timeout | undefined;
	const waiting = (on: boolean) => {
		clearTimeout(idle);
		if (!on || controller.signal.aborted) return;
		idle = setTimeout(() => {
			const message = `The server sent nothing for ${idleMs} ms.`;
			controller.abort(new OutboundHttpError('timeout', message));
		}, idleMs);
	};
	waiting(true);
	return {
		signal: controller.signal,
		waiting,
		dispose() {
			clearTimeout(total);
			clearTimeout(idle);
			caller?.removeEventListener('abort', follow);
		}
	};
}

function streamedResponse(stream: OutboundStream, watch: ExchangeWatch): Response {
	watch.waiting(false);
	const init = { status: stream.status, headers: stream.headers };
	if (nullBodyStatuses.has(stream.status)) {
		stream.close();
		watch.dispose();
		return withUrl(new Response(null, init), stream);
	}
	const body = new ReadableStream<Uint8Array>({
		async pull(controller) {
			watch.waiting(true);
			try {
				const next = await stream.body.next();
				watch.waiting(false);
				if (next.done) {
					watch.dispose();
					controller.close();
				} else {
					controller.enqueue(new Uint8Array(next.value));
				}
			} catch (error) {
				watch.dispose();
				controller.error(error);
			}
		},
		cancel() {
			watch.dispose();
			stream.close();
		}
	});
	return withUrl(new Response(body, init), stream);
}

/** fetch reports the URL that answered; a constructed Response has none of its own. */
function withUrl(response: Response, stream: OutboundStream): Response {
	Object.defineProperty(response, 'url', { value: stream.url });
	Object.defineProperty(response, 'redirected', { value: stream.redirects > 0 });
	return response;
}

/** The bodies the providers send: JSON text, or bytes. */
function outgoingBody(body: BodyInit | null | undefined): string | Uint8Array | undefined {
	if (body === null || body === undefined) return undefined;
	if (typeof body === 'string') return body;
	if (body instanceof ArrayBuffer) return new Uint8Array(body);
	if (ArrayBuffer.isView(body))
		return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
	throw new OutboundHttpError('invalid_request', 'The request body must be text or bytes.');
}
