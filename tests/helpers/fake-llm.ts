import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local model server for tests: OpenAI Chat Completions and Anthropic Messages over their real
 * wire formats (JSON and server-sent events), replies and faults scripted per test, every request
 * recorded. No LLM is reachable from the tests; this is what the providers talk to instead.
 */

export interface FakeToolCall {
	/** Default: call_N (OpenAI) or toolu_N (Anthropic). */
	id?: string;
	name: string;
	/** An object is sent as its JSON; a string as written. */
	arguments: object | string;
}

export interface FakeUsage {
	/** Every prompt token, cached ones included. */
	inputTokens: number;
	outputTokens: number;
	cachedInputTokens?: number;
}

/** One scripted answer to the next model request. */
export type FakeStep =
	| {
			kind: 'reply';
			text?: string;
			toolCalls?: FakeToolCall[];
			usage?: FakeUsage;
			/** Wait between streamed chunks: a slow stream. */
			chunkDelayMs?: number;
	  }
	/** An HTTP error in the provider's error format, with Retry-After when given. */
	| { kind: 'error'; status: number; retryAfter?: string; message?: string }
	/** A success status whose body (or an event of the stream) is not JSON. */
	| { kind: 'malformed' }
	/** Reads the request and never answers. */
	| { kind: 'hang' };

export interface RecordedRequest {
	method: string;
	path: string;
	headers: http.IncomingHttpHeaders;
	/** The parsed JSON body, or null without one. */
	body: Record<string, unknown> | null;
	/** Set when the client closed the connection before the response was complete. */
	closedEarly: boolean;
}

export interface FakeLlm {
	/** The origin, http://127.0.0.1:port; providers take `${url}/v1` as their base URL. */
	url: string;
	port: number;
	requests: RecordedRequest[];
	/** Queues replies and faults, served in order to model requests (not to GET /v1/models). */
	script(...steps: FakeStep[]): void;
	/** Drops the replies not served yet (after a test that failed early); returns how many. */
	unscript(): number;
	/** The model requests made to a path, e.g. '/v1/chat/completions'. */
	count(path: string): number;
	/** The most model requests that were in progress at once. */
	maxConcurrent: number;
	/** Resolves when request number `index` (0-based) is closed by the client before its end. */
	closedEarly(index: number): Promise<RecordedRequest>;
	close(): Promise<void>;
}

export interface FakeLlmOptions {
	/** When set, a request without this key (Bearer or x-api-key) gets 401. */
	apiKey?: string;
	/** What GET /v1/models lists. */
	models?: string[];
}

type Protocol = 'openai' | 'anthropic';

const modelPaths: Record<string, Protocol> = {
	'/v1/chat/completions': 'openai',
	'/v1/messages': 'anthropic'
};

export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
	const queue: FakeStep[] = [];
	const requests: RecordedRequest[] = [];
	const earlyCloseWaiters = new Map<number, (request: RecordedRequest) => void>();
	let active = 0;
	const models = options.models ?? ['fake-model'];

	const server = http.createServer((incoming, response) => {
		const chunks: Buffer[] = [];
		incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
		incoming.on('end', () => {
			const path = (incoming.url ?? '').split('?')[0] ?? '';
			const text = Buffer.concat(chunks).toString();
			const recorded: RecordedRequest = {
				method: incoming.method ?? '',
				path,
				headers: incoming.headers,
				body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>),
				closedEarly: false
			};
			const index = requests.push(recorded) - 1;
			response.once('close', () => {
				if (response.writableFinished) return;
				recorded.closedEarly = true;
				earlyCloseWaiters.get(index)?.(recorded);
			});
			const protocol: Protocol =
				modelPaths[path] ?? (incoming.headers['anthropic-version'] ? 'anthropic' : 'openai');
			if (!authorized(incoming, protocol, options.apiKey)) {
				sendError(response, protocol, 401, 'invalid api key');
				return;
			}
			if (incoming.method === 'GET' && path === '/v1/models') {
				sendJson(response, 200, modelList(protocol, models));
				return;
			}
			if (incoming.method !== 'POST' || modelPaths[path] === undefined) {
				sendError(response, protocol, 404, `no route ${incoming.method} ${path}`);
				return;
			}
			active++;
			fake.maxConcurrent = Math.max(fake.maxConcurrent, active);
			response.once('close', () => active--);
			const step = queue.shift() ?? {
				kind: 'error',
				status: 500,
				message: 'the fake model server has no scripted reply left'
			};
			answer(protocol, recorded, step, response, index);
		});
	});

	function answer(
		protocol: Protocol,
		recorded: RecordedRequest,
		step: FakeStep,
		response: http.ServerResponse,
		index: number
	) {
		const streaming = recorded.body?.stream === true;
		switch (step.kind) {
			case 'hang':
				return;
			case 'error': {
				const headers: Record<string, string> =
					step.retryAfter === undefined ? {} : { 'retry-after': step.retryAfter };
				sendError(response, protocol, step.status, step.message ?? 'scripted failure', headers);
				return;
			}
			case 'malformed':
				if (streaming) {
					// A good opening event, then one that is not JSON: a stream corrupted on the way.
					const opening = events(protocol, { kind: 'reply', text: 'partial', turn: index }, {});
					streamEvents(response, [...opening.slice(0, 1), { data: '{"broken": [ not json' }], 0);
				} else {
					response.writeHead(200, { 'content-type': 'application/json' });
					response.end('{"id": "x", not json');
				}
				return;
			case 'reply': {
				const reply = { ...step, turn: index };
				if (!streaming) {
					sendJson(
						response,
						200,
						(protocol === 'openai' ? openaiMessage : anthropicMessage)(reply)
					);
					return;
				}
				streamEvents(
					response,
					events(protocol, reply, recorded.body ?? {}),
					step.chunkDelayMs ?? 0
				);
			}
		}
	}

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	const { port } = server.address() as AddressInfo;
	const fake: FakeLlm = {
		url: `http://127.0.0.1:${port}`,
		port,
		requests,
		maxConcurrent: 0,
		script: (...steps) => queue.push(...steps),
		unscript: () => queue.splice(0).length,
		count: (path) => requests.filter((request) => request.path === path).length,
		closedEarly: (index) =>
			new Promise((resolve) => {
				const request = requests[index];
				if (request?.closedEarly) resolve(request);
				else earlyCloseWaiters.set(index, resolve);
			}),
		close: () =>
			new Promise((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			})
	};
	return fake;
}

type Reply = Extract<FakeStep, { kind: 'reply' }> & { turn: number };
/**
 * An SSE event: its `event:` name (Anthropic sends one) and its data. A slow stream waits after
 * each event that carries output, so the client has a piece of output to show while it waits.
 */
type SseEvent = { name?: string; data: unknown; output?: boolean };

function authorized(incoming: http.IncomingMessage, protocol: Protocol, key?: string): boolean {
	if (key === undefined) return true;
	if (protocol === 'anthropic') return incoming.headers['x-api-key'] === key;
	return incoming.headers.authorization === `Bearer ${key}`;
}

function sendJson(
	response: http.ServerResponse,
	status: number,
	body: unknown,
	headers: Record<string, string> = {}
) {
	response.writeHead(status, { 'content-type': 'application/json', ...headers });
	response.end(JSON.stringify(body));
}

function sendError(
	response: http.ServerResponse,
	protocol: Protocol,
	status: number,
	message: string,
	headers: Record<string, string> = {}
) {
	const type =
		status === 429 ? 'rate_limit_error' : status === 401 ? 'authentication_error' : 'api_error';
	const body =
		protocol === 'anthropic'
			? { type: 'error', error: { type, message } }
			: { error: { message, type, code: null, param: null } };
	sendJson(response, status, body, headers);
}

function modelList(protocol: Protocol, models: string[]) {
	if (protocol === 'anthropic') {
		const data = models.map((id) => ({
			type: 'model',
			id,
			display_name: id,
			created_at: '2025-01-01T00:00:00Z'
		}));
		return { data, has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null };
	}
	return {
		object: 'list',
		data: models.map((id) => ({ id, object: 'model', created: 1735689600, owned_by: 'fake' }))
	};
}

function events(protocol: Protocol, reply: Reply, body: Record<string, unknown>): SseEvent[] {
	return protocol === 'openai' ? openaiEvents(reply, body) : anthropicEvents(reply);
}

function streamEvents(response: http.ServerResponse, events: SseEvent[], delayMs: number) {
	response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
	let timer: NodeJS.Timeout | undefined;
	response.once('close', () => clearTimeout(timer));
	const send = (index: number) => {
		const event = events[index];
		if (event === undefined) {
			response.end();
			return;
		}
		const name = event.name === undefined ? '' : `event: ${event.name}\n`;
		const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
		response.write(`${name}data: ${data}\n\n`);
		timer = setTimeout(() => send(index + 1), event.output === true ? delayMs : 0);
	};
	send(0);
}

/** Text in pieces of a word or so, as models stream it. */
function textPieces(text: string): string[] {
	return text.match(/\S+\s*|\s+/g) ?? [];
}

const argumentsText = (call: FakeToolCall) =>
	typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);

function halves(text: string): string[] {
	const middle = Math.ceil(text.length / 2);
	return [text.slice(0, middle), text.slice(middle)].filter((piece) => piece !== '');
}

function openaiUsage(usage: FakeUsage | undefined) {
	if (usage === undefined) return undefined;
	return {
		prompt_tokens: usage.inputTokens,
		completion_tokens: usage.outputTokens,
		total_tokens: usage.inputTokens + usage.outputTokens,
		prompt_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 }
	};
}

function openaiToolCalls(reply: Reply) {
	return (reply.toolCalls ?? []).map((call, index) => ({
		id: call.id ?? `call_${reply.turn}_${index}`,
		type: 'function' as const,
		function: { name: call.name, arguments: argumentsText(call) }
	}));
}

const finishReason = (reply: Reply) => (reply.toolCalls?.length ? 'tool_calls' : 'stop');

function openaiMessage(reply: Reply) {
	const toolCalls = openaiToolCalls(reply);
	return {
		id: `chatcmpl-${reply.turn}`,
		object: 'chat.completion',
		created: 1735689600,
		model: 'fake-model',
		choices: [
			{
				index: 0,
				message: {
					role: 'assistant',
					content: reply.text ?? null,
					...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {})
				},
				finish_reason: finishReason(reply)
			}
		],
		usage: openaiUsage(reply.usage)
	};
}

function openaiEvents(reply: Reply, body: Record<string, unknown>): SseEvent[] {
	const base = {
		id: `chatcmpl-${reply.turn}`,
		object: 'chat.completion.chunk',
		created: 1735689600,
		model: 'fake-model'
	};
	const chunk = (
		delta: { role?: string; content?: string; tool_calls?: object[] },
		finish: string | null = null
	): SseEvent => ({
		data: { ...base, choices: [{ index: 0, delta, finish_reason: finish }] },
		output: Boolean(delta.content) || delta.tool_calls !== undefined
	});
	const events: SseEvent[] = [chunk({ role: 'assistant', content: '' })];
	for (const piece of textPieces(reply.text ?? '')) events.push(chunk({ content: piece }));
	openaiToolCalls(reply).forEach((call, index) => {
		events.push(
			chunk({
				tool_calls: [
					{
						index,
						id: call.id,
						type: 'function',
						function: { name: call.function.name, arguments: '' }
					}
				]
			})
		);
		for (const piece of halves(call.function.arguments)) {
			events.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
		}
	});
	events.push(chunk({}, finishReason(reply)));
	const options = body.stream_options as { include_usage?: boolean } | undefined;
	if (options?.include_usage === true) {
		events.push({ data: { ...base, choices: [], usage: openaiUsage(reply.usage) ?? null } });
	}
	events.push({ data: '[DONE]' });
	return events;
}

function anthropicUsage(usage: FakeUsage | undefined) {
	const cached = usage?.cachedInputTokens ?? 0;
	return {
		// Anthropic counts cache reads apart from input_tokens.
		input_tokens: (usage?.inputTokens ?? 0) - cached,
		output_tokens: usage?.outputTokens ?? 0,
		cache_read_input_tokens: cached,
		cache_creation_input_tokens: 0
	};
}

function anthropicContent(reply: Reply) {
	const blocks: (
		| { type: 'text'; text: string }
		| { type: 'tool_use'; id: string; name: string; input: unknown; json: string }
	)[] = [];
	if (reply.text !== undefined) blocks.push({ type: 'text', text: reply.text });
	(reply.toolCalls ?? []).forEach((call, index) => {
		const json = argumentsText(call);
		const id = call.id ?? `toolu_${reply.turn}_${index}`;
		blocks.push({ type: 'tool_use', id, name: call.name, input: JSON.parse(json), json });
	});
	return blocks;
}

const stopReason = (reply: Reply) => (reply.toolCalls?.length ? 'tool_use' : 'end_turn');

function anthropicMessage(reply: Reply) {
	return {
		id: `msg_${reply.turn}`,
		type: 'message',
		role: 'assistant',
		model: 'fake-model',
		content: anthropicContent(reply).map((block) =>
			block.type === 'text'
				? block
				: { type: 'tool_use', id: block.id, name: block.name, input: block.input }
		),
		stop_reason: stopReason(reply),
		stop_sequence: null,
		usage: anthropicUsage(reply.usage)
	};
}

function anthropicEvents(reply: Reply): SseEvent[] {
	const usage = anthropicUsage(reply.usage);
	const event = (name: string, data: object): SseEvent => ({
		name,
		data: { type: name, ...data },
		output: name === 'content_block_delta'
	});
	const events: SseEvent[] = [
		event('message_start', {
			message: {
				id: `msg_${reply.turn}`,
				type: 'message',
				role: 'assistant',
				model: 'fake-model',
				content: [],
				stop_reason: null,
				stop_sequence: null,
				usage: { ...usage, output_tokens: 1 }
			}
		}),
		event('ping', {})
	];
	anthropicContent(reply).forEach((block, index) => {
		if (block.type === 'text') {
			events.push(
				event('content_block_start', { index, content_block: { type: 'text', text: '' } })
			);
			for (const text of textPieces(block.text)) {
				events.push(event('content_block_delta', { index, delta: { type: 'text_delta', text } }));
			}
		} else {
			const start = { type: 'tool_use', id: block.id, name: block.name, input: {} };
			events.push(event('content_block_start', { index, content_block: start }));
			for (const partial_json of halves(block.json)) {
				events.push(
					event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } })
				);
			}
		}
		events.push(event('content_block_stop', { index }));
	});
	events.push(
		event('message_delta', {
			delta: { stop_reason: stopReason(reply), stop_sequence: null },
			usage: { output_tokens: usage.output_tokens }
		}),
		event('message_stop', {})
	);
	return events;
}
