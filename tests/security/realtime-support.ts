import type { Socket } from 'node:net';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { serverMessageSchema, type ServerMessage } from '../../src/lib/schemas/realtime.ts';
import { scaled } from '../helpers/deadline.ts';
import type { TestClient } from '../helpers/http-client.ts';

/** How long a wait for a frame or a close may take on a quiet machine (scaled by its load). */
const waitLimitMs = 20_000;

export interface Closure {
	code: number;
	reason: string;
}

export interface Received {
	/** The text frame exactly as sent, for byte-for-byte comparisons. */
	raw: string;
	message: ServerMessage;
}

/** A `ws` client that records every frame the server sends and how the socket ended. */
export class RealtimeClient {
	readonly socket: WebSocket;
	readonly received: Received[] = [];
	/** Frames that are no valid protocol message (binary, not JSON, unknown shape). */
	readonly malformed: string[] = [];
	closure: Closure | null = null;
	readonly #changes = new Set<() => void>();
	#nextId = 0;

	constructor(socket: WebSocket) {
		this.socket = socket;
		socket.on('message', (data, isBinary) => {
			const bytes = Buffer.isBuffer(data)
				? data
				: Array.isArray(data)
					? Buffer.concat(data)
					: Buffer.from(data);
			const raw = bytes.toString('utf8');
			const parsed = isBinary ? null : serverMessageSchema.safeParse(parseJson(raw));
			if (parsed?.success) this.received.push({ raw, message: parsed.data });
			else this.malformed.push(isBinary ? `(binary) ${raw}` : raw);
			this.#changed();
		});
		socket.on('close', (code, reason) => {
			this.closure = { code, reason: reason.toString('utf8') };
			this.#changed();
		});
	}

	get messages(): ServerMessage[] {
		return this.received.map((entry) => entry.message);
	}

	#changed(): void {
		for (const listener of [...this.#changes]) listener();
	}

	#describe(): string {
		const frames = this.received.map((entry) => entry.raw).join('\n  ');
		const closed = this.closure ? `closed ${this.closure.code} ${this.closure.reason}` : 'open';
		return `socket ${closed}; received:\n  ${frames || '(nothing)'}`;
	}

	/** Waits until `ready` returns a value (checked at once and after every frame or the close). */
	#until<T>(ready: () => T | undefined, what: string, failOnClose = true): Promise<T> {
		return new Promise((resolve, reject) => {
			const finish = (settle: () => void) => {
				clearTimeout(timer);
				this.#changes.delete(check);
				settle();
			};
			const check = () => {
				const value = ready();
				if (value !== undefined) finish(() => resolve(value));
				else if (failOnClose && this.closure)
					finish(() => reject(new Error(`${what} never came: ${this.#describe()}`)));
			};
			const timer = setTimeout(
				() => finish(() => reject(new Error(`waited in vain for ${what}: ${this.#describe()}`))),
				scaled(waitLimitMs)
			);
			this.#changes.add(check);
			check();
		});
	}

	/** The first received frame (so far or later) that matches. */
	waitFor(
		match: (message: ServerMessage) => boolean,
		what = 'a matching frame'
	): Promise<Received> {
		return this.#until(() => this.received.find((entry) => match(entry.message)), what);
	}

	/** Waits until `count` frames match, and returns them. */
	waitForCount(match: (message: ServerMessage) => boolean, count: number, what: string) {
		return this.#until(() => {
			const found = this.received.filter((entry) => match(entry.message));
			return found.length >= count ? found : undefined;
		}, `${count} × ${what}`);
	}

	/** How the socket ended: the server's close code and reason. */
	closed(): Promise<Closure> {
		return this.#until(() => this.closure ?? undefined, 'the close', false);
	}

	/** Sends a text frame (or binary, or text bytes that need not be UTF-8). */
	sendRaw(data: string | Buffer, binary = false): void {
		this.socket.send(data, { binary });
	}

	/** Sends frames in one TCP write, so the server receives (and starts handling) them together. */
	sendTogether(messages: Record<string, unknown>[]): void {
		// ws keeps the TCP socket private; corking it is the only way to batch frames into one write.
		const tcp = (this.socket as unknown as { _socket: Socket })._socket;
		tcp.cork();
		for (const message of messages) this.socket.send(JSON.stringify(message));
		tcp.uncork();
	}

	/** Sends a message with a fresh id and resolves with the server's answer carrying that id. */
	async request(message: Record<string, unknown>): Promise<Received> {
		this.#nextId += 1;
		const id = `r${this.#nextId}`;
		this.sendRaw(JSON.stringify({ ...message, id }));
		return this.waitFor((reply) => 'id' in reply && reply.id === id, `the answer to ${id}`);
	}

	/** Sends a text frame and resolves with the next frame the server sends. */
	async exchange(data: string | Buffer, binary = false): Promise<Received> {
		const index = this.received.length;
		this.sendRaw(data, binary);
		return this.#until(() => this.received[index], 'an answer');
	}

	async ping(): Promise<ServerMessage> {
		return (await this.request({ type: 'ping' })).message;
	}
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

export type Upgrade =
	| { opened: true; client: RealtimeClient }
	| { opened: false; status: number; contentType: string | undefined; body: string };

const openClients = new Set<RealtimeClient>();

export interface ConnectOptions {
	path?: string;
	/** A Cookie header value. */
	cookie?: string;
	origin?: string;
	ticket?: string;
}

/** Opens a WebSocket to the app; resolves with the open client or the HTTP answer that refused it. */
export function connect(baseUrl: string, options: ConnectOptions = {}): Promise<Upgrade> {
	const url = new URL(options.path ?? '/ws', baseUrl);
	url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
	if (options.ticket !== undefined) url.searchParams.set('ticket', options.ticket);
	const headers: Record<string, string> = {};
	if (options.cookie !== undefined) headers.cookie = options.cookie;
	if (options.origin !== undefined) headers.origin = options.origin;
	// `ws` sends no Origin unless told to, as a non-browser client would.
	const socket = new WebSocket(url, { headers, perMessageDeflate: false });
	const client = new RealtimeClient(socket);
	return new Promise((resolve, reject) => {
		let settled = false;
		socket.on('error', (error) => {
			if (!settled) reject(error);
			settled = true;
		});
		socket.once('open', () => {
			settled = true;
			openClients.add(client);
			resolve({ opened: true, client });
		});
		socket.once('unexpected-response', (_request, response) => {
			let body = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => (body += chunk));
			response.on('end', () => {
				settled = true;
				socket.terminate();
				resolve({
					opened: false,
					status: response.statusCode ?? 0,
					contentType: response.headers['content-type'],
					body
				});
			});
		});
	});
}

/** Connects and expects the socket to open. */
export async function open(baseUrl: string, options: ConnectOptions = {}): Promise<RealtimeClient> {
	const upgrade = await connect(baseUrl, options);
	if (!upgrade.opened)
		throw new Error(`expected the upgrade to succeed, got ${upgrade.status} ${upgrade.body}`);
	return upgrade.client;
}

/** Connects and expects a problem+json refusal with this status; returns the problem. */
export async function refused(baseUrl: string, options: ConnectOptions, status: number) {
	const upgrade = await connect(baseUrl, options);
	expect(upgrade.opened).toBe(false);
	if (upgrade.opened) throw new Error('the upgrade succeeded');
	expect(upgrade.status).toBe(status);
	expect(upgrade.contentType).toBe('application/problem+json');
	const problem = JSON.parse(upgrade.body) as { status: number; title: string; detail: string };
	expect(problem.status).toBe(status);
	return problem;
}

/**
 * Ends every socket the last test opened. Each frame the server sent must have been a valid protocol
 * message (serverMessageSchema, strict).
 */
export async function closeAllClients(): Promise<void> {
	const clients = [...openClients];
	openClients.clear();
	await Promise.all(
		clients.map(async (client) => {
			if (client.closure) return;
			client.socket.terminate();
			await client.closed();
		})
	);
	expect(clients.flatMap((client) => client.malformed)).toEqual([]);
}

/** The Cookie header a browser would send for this client's session. */
export function sessionCookie(client: TestClient): string {
	const token = client.cookies.get('awe_session');
	if (!token) throw new Error('the client holds no session cookie');
	return `awe_session=${token}`;
}

export interface IssuedTicket {
	ticket: string;
	expiresAt: string;
	url: string;
}

/** Asks for a realtime ticket with the client's session (same origin) or a bearer token. */
export async function issueTicket(client: TestClient, bearer?: string): Promise<IssuedTicket> {
	const response = await requestTicket(client, bearer);
	expect(response.status).toBe(201);
	return (await response.json()) as IssuedTicket;
}

export function requestTicket(client: TestClient, bearer?: string): Promise<Response> {
	return client.request('/api/v1/realtime/ticket', {
		method: 'POST',
		headers: bearer ? { authorization: `Bearer ${bearer}` } : { origin: client.origin }
	});
}

/** A personal access token minted through the settings form, as a user does. */
export async function createApiToken(
	owner: TestClient,
	name: string,
	scopes: string[]
): Promise<{ secret: string; id: string }> {
	const form = await owner.postForm('/settings/tokens?/create', {
		name,
		scopes,
		expiresInDays: '7'
	});
	const secret = /awe_[a-z2-7]+/.exec(await form.text())?.[0];
	if (!secret) throw new Error(`no token issued (${form.status})`);
	const listed = (await (await owner.request('/api/v1/tokens')).json()) as {
		id: string;
		name: string;
	}[];
	const id = listed.find((token) => token.name === name)?.id;
	if (!id) throw new Error(`token ${name} is not listed`);
	return { secret, id };
}

/** Creates and publishes a workflow (the default definition unless one is given); returns its id. */
export async function publishWorkflow(
	client: TestClient,
	workspaceId: string,
	name: string,
	definition?: unknown
): Promise<string> {
	const base = `/api/v1/workspaces/${workspaceId}/workflows`;
	const created = await client.json(base, 'POST', definition ? { name, definition } : { name });
	expect(created.status).toBe(201);
	const { id } = (await created.json()) as { id: string };
	const published = await client.json(`${base}/${id}/versions/1/publish`, 'POST', {});
	expect(published.status).toBe(200);
	return id;
}

export async function startRun(
	client: TestClient,
	workspaceId: string,
	workflowId: string
): Promise<string> {
	const response = await client.json(
		`/api/v1/workspaces/${workspaceId}/workflows/${workflowId}/runs`,
		'POST',
		{ input: {} }
	);
	expect(response.status).toBe(201);
	return ((await response.json()) as { run: { id: string } }).run.id;
}

/** A run that waits an hour on a delay (or stays queued without a worker) until cancelled. */
export const sleeperDefinition = {
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'pause', kind: 'delay', config: { duration: '1h' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'pause' },
		{ from: 'pause', to: 'done' }
	]
};

/** Pauses between bursts of messages so a socket stays inside its rate limit (not an assertion). */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
