import {
	closeCodes,
	serverMessageSchema,
	type ClientMessage,
	type DeltaMessage,
	type EventMessage,
	type RealtimeErrorCode,
	type ServerMessage
} from '$lib/schemas/realtime';

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'unauthorized';

export interface ConnectionState {
	status: ConnectionStatus;
	/** While reconnecting: how long until the next attempt (null while an attempt is under way). */
	retryInMs: number | null;
}

/** Typed like a method, so both the DOM's and `ws`'s handler types are accepted. */
type Handler<E> = { handle(event: E): void }['handle'];

/** What the client uses of a WebSocket: the browser's, or `ws`'s in Node. */
export interface SocketLike {
	onopen: Handler<unknown> | null;
	onmessage: Handler<{ data: unknown }> | null;
	onclose: Handler<{ code: number }> | null;
	onerror: Handler<unknown> | null;
	send(data: string): void;
	close(code?: number, reason?: string): void;
}

export type SocketConstructor = new (url: string) => SocketLike;

export interface RealtimeClientOptions {
	/** The `/ws` URL; see `realtimeUrl`. */
	url: string;
	/** Defaults to the global WebSocket. */
	WebSocket?: SocketConstructor;
	/** The first reconnect waits about this long, each next one twice as long, up to `maxBackoffMs`. */
	initialBackoffMs?: number;
	maxBackoffMs?: number;
	/** A connection that stayed open this long starts the backoff over. */
	stableAfterMs?: number;
	/** A ping goes out after this long without a message from the server… */
	pingIntervalMs?: number;
	/** …and the connection is given up when nothing came back this long after it. */
	pongTimeoutMs?: number;
	/** Malformed messages and server errors that belong to no subscription (they are ignored). */
	onProblem?: (problem: string, detail: unknown) => void;
	/**
	 * Asked after an attempt that never opened: a browser cannot see why an upgrade was refused, so
	 * a signed-out page would otherwise retry forever. Answering false ends in `unauthorized`.
	 */
	checkSignedIn?: () => Promise<boolean>;
}

export interface SubscriptionError {
	code: RealtimeErrorCode;
	message: string;
}

export interface RunHandlers {
	/** The last event seq the caller already has: only later events are delivered. */
	afterSeq?: number;
	/** Each event once, in seq order, across reconnects. */
	onEvent: (event: EventMessage) => void;
	/** Streamed output of running steps (live only; `offset` tells whether some was missed). */
	onDelta?: (delta: DeltaMessage) => void;
	/** The server ended the subscription (`not_found`, `access_revoked`…); it is not renewed. */
	onError?: (error: SubscriptionError) => void;
}

export interface WorkspaceHandlers {
	/** Live only: after a reconnect (status back to `open`), reload what might have been missed. */
	onEvent: (event: EventMessage) => void;
	onError?: (error: SubscriptionError) => void;
}

type Subscription =
	| { topic: 'run'; runId: string; lastSeq: number; handlers: RunHandlers }
	| { topic: 'workspace'; workspaceId: string; handlers: WorkspaceHandlers };

/** The `/ws` URL of the page's own origin (the session cookie authenticates it). */
export function realtimeUrl(location: Pick<Location, 'protocol' | 'host'>): string {
	return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

const keyOf = (topic: { runId: string } | { workspaceId: string }) =>
	'runId' in topic ? `run:${topic.runId}` : `workspace:${topic.workspaceId}`;

const ignore = () => {};

/**
 * A browser client for the `/ws` protocol (src/lib/schemas/realtime.ts). It connects at once and
 * stays connected: after a drop it reconnects with exponential backoff and jitter, and subscribes
 * again to every topic, each run from the last event it delivered, so every event arrives once and
 * in order. It stops for good after `close()` or when the server says the session ended (4001).
 */
export class RealtimeClient {
	readonly #url: string;
	readonly #WebSocket: SocketConstructor;
	readonly #initialBackoffMs: number;
	readonly #maxBackoffMs: number;
	readonly #stableAfterMs: number;
	readonly #pingIntervalMs: number;
	readonly #pongTimeoutMs: number;
	readonly #onProblem: (problem: string, detail: unknown) => void;
	readonly #checkSignedIn: (() => Promise<boolean>) | undefined;
	readonly #subscriptions = new Map<string, Subscription>();
	readonly #listeners = new Set<(state: ConnectionState) => void>();
	#state: ConnectionState = { status: 'connecting', retryInMs: null };
	#socket: SocketLike | null = null;
	#openedAt: number | null = null;
	#failures = 0;
	#retryTimer: ReturnType<typeof setTimeout> | undefined;
	#pingTimer: ReturnType<typeof setTimeout> | undefined;
	#pongTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(options: RealtimeClientOptions) {
		this.#url = options.url;
		this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
		this.#initialBackoffMs = options.initialBackoffMs ?? 500;
		this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
		this.#stableAfterMs = options.stableAfterMs ?? 10_000;
		this.#pingIntervalMs = options.pingIntervalMs ?? 25_000;
		this.#pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
		this.#checkSignedIn = options.checkSignedIn;
		this.#onProblem =
			options.onProblem ?? ((problem, detail) => console.warn(`realtime: ${problem}`, detail));
		this.#connect();
	}

	get state(): ConnectionState {
		return this.#state;
	}

	/** Calls `listener` with the current state now and with every change; returns the way to stop. */
	onState(listener: (state: ConnectionState) => void): () => void {
		this.#listeners.add(listener);
		listener(this.#state);
		return () => this.#listeners.delete(listener);
	}

	/** Follows a run's events after `afterSeq`, then live; returns the way to unsubscribe. */
	subscribeRun(runId: string, handlers: RunHandlers): () => void {
		return this.#subscribe({ topic: 'run', runId, lastSeq: handlers.afterSeq ?? 0, handlers });
	}

	/** Follows a workspace's run feed (runs queued, started, waiting and finished). */
	subscribeWorkspace(workspaceId: string, handlers: WorkspaceHandlers): () => void {
		return this.#subscribe({ topic: 'workspace', workspaceId, handlers });
	}

	/** Disconnects for good. */
	close(): void {
		if (this.#state.status === 'closed') return;
		this.#disconnect(1000);
		this.#subscriptions.clear();
		this.#setState({ status: 'closed', retryInMs: null });
	}

	#subscribe(subscription: Subscription): () => void {
		const key = keyOf(subscription);
		if (this.#subscriptions.has(key)) throw new Error(`Already subscribed to ${key}.`);
		this.#subscriptions.set(key, subscription);
		this.#sendSubscribe(subscription);
		return () => {
			if (this.#subscriptions.get(key) !== subscription) return;
			this.#subscriptions.delete(key);
			this.#send(
				subscription.topic === 'run'
					? { type: 'unsubscribe', topic: 'run', runId: subscription.runId }
					: { type: 'unsubscribe', topic: 'workspace', workspaceId: subscription.workspaceId }
			);
		};
	}

	#sendSubscribe(subscription: Subscription): void {
		this.#send(
			subscription.topic === 'run'
				? {
						type: 'subscribe',
						topic: 'run',
						runId: subscription.runId,
						afterSeq: subscription.lastSeq
					}
				: { type: 'subscribe', topic: 'workspace', workspaceId: subscription.workspaceId }
		);
	}

	#send(message: ClientMessage): void {
		// Not connected: the subscriptions are sent again on (re)connect anyway.
		if (this.#openedAt !== null) this.#socket?.send(JSON.stringify(message));
	}

	#setState(state: ConnectionState): void {
		this.#state = state;
		for (const listener of this.#listeners) listener(state);
	}

	#connect(): void {
		this.#retryTimer = undefined;
		const socket = new this.#WebSocket(this.#url);
		this.#socket = socket;
		socket.onopen = () => {
			this.#openedAt = Date.now();
			this.#setState({ status: 'open', retryInMs: null });
			this.#armHeartbeat();
			for (const subscription of this.#subscriptions.values()) this.#sendSubscribe(subscription);
		};
		socket.onmessage = (event) => this.#receive(event.data);
		socket.onclose = (event) => this.#dropped(event.code);
		// A close event follows every error, with what there is to know.
		socket.onerror = ignore;
		// The heartbeat also bounds how long connecting may take.
		this.#armHeartbeat();
		if (this.#state.status === 'reconnecting') this.#setState({ ...this.#state, retryInMs: null });
	}

	/** Forgets the current socket, closing it if it is still there. */
	#disconnect(code?: number): void {
		clearTimeout(this.#retryTimer);
		clearTimeout(this.#pingTimer);
		clearTimeout(this.#pongTimer);
		const socket = this.#socket;
		this.#socket = null;
		if (socket === null) return;
		// No-ops rather than null: `ws` throws on an error event nobody listens to.
		socket.onopen = socket.onmessage = socket.onclose = socket.onerror = ignore;
		socket.close(code);
	}

	#dropped(code: number | undefined): void {
		const neverOpened = this.#openedAt === null;
		const openedFor = neverOpened ? 0 : Date.now() - (this.#openedAt ?? 0);
		this.#openedAt = null;
		this.#disconnect();
		if (code === closeCodes.unauthorized) return this.#unauthorized();
		if (neverOpened && this.#checkSignedIn) {
			this.#checkSignedIn().then((signedIn) => {
				if (!signedIn && this.#state.status === 'reconnecting') this.#unauthorized();
			}, ignore);
		}
		if (openedFor >= this.#stableAfterMs) this.#failures = 0;
		// Told to slow down: wait as long as the backoff ever does.
		const ceiling =
			code === closeCodes.rateLimited
				? this.#maxBackoffMs
				: Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** this.#failures);
		this.#failures += 1;
		// Half fixed, half random: clients dropped together do not all come back together.
		const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
		this.#retryTimer = setTimeout(() => this.#connect(), delay);
		this.#setState({ status: 'reconnecting', retryInMs: delay });
	}

	#unauthorized(): void {
		clearTimeout(this.#retryTimer);
		this.#setState({ status: 'unauthorized', retryInMs: null });
	}

	/** After a quiet `pingIntervalMs`, pings; without an answer `pongTimeoutMs` later, reconnects. */
	#armHeartbeat(): void {
		clearTimeout(this.#pingTimer);
		clearTimeout(this.#pongTimer);
		this.#pingTimer = setTimeout(() => {
			this.#send({ type: 'ping' });
			this.#pongTimer = setTimeout(() => this.#dropped(undefined), this.#pongTimeoutMs);
		}, this.#pingIntervalMs);
	}

	#receive(data: unknown): void {
		this.#armHeartbeat();
		if (typeof data !== 'string') return this.#onProblem('ignored a binary message', data);
		let json: unknown;
		try {
			json = JSON.parse(data);
		} catch {
			return this.#onProblem('ignored a message that is not JSON', data);
		}
		const parsed = serverMessageSchema.safeParse(json);
		if (!parsed.success) {
			return this.#onProblem('ignored an invalid message', { message: json, error: parsed.error });
		}
		this.#handle(parsed.data);
	}

	#handle(message: ServerMessage): void {
		if (message.type === 'event') {
			const subscription = this.#subscriptions.get(
				message.topic === 'run'
					? keyOf({ runId: message.runId })
					: keyOf({ workspaceId: message.workspaceId })
			);
			if (subscription?.topic === 'run') {
				// A subscription after a reconnect may replay what was delivered already.
				if (message.seq <= subscription.lastSeq) return;
				subscription.lastSeq = message.seq;
				subscription.handlers.onEvent(message);
			} else subscription?.handlers.onEvent(message);
		} else if (message.type === 'delta') {
			const subscription = this.#subscriptions.get(keyOf({ runId: message.runId }));
			if (subscription?.topic === 'run') subscription.handlers.onDelta?.(message);
		} else if (message.type === 'error') {
			this.#serverError(message);
		}
	}

	#serverError(message: Extract<ServerMessage, { type: 'error' }>): void {
		const topic = message.runId
			? { runId: message.runId }
			: message.workspaceId
				? { workspaceId: message.workspaceId }
				: null;
		// The server failed at something: start over (with backoff), subscribing again to everything.
		if (message.code === 'internal') {
			this.#onProblem('server error internal', message);
			return this.#dropped(undefined);
		}
		const subscription = topic && this.#subscriptions.get(keyOf(topic));
		if (subscription) {
			// Errors naming a topic mean the server has no subscription to it (any more).
			this.#subscriptions.delete(keyOf(topic));
			subscription.handlers.onError?.({ code: message.code, message: message.message });
			return;
		}
		this.#onProblem(`server error ${message.code}`, message);
	}
}

/**
 * The client a page of this app uses: `/ws` on the page's origin (the session cookie signs it in),
 * asking `/api/v1/me` whether it is still signed in when a connection is refused.
 */
export function pageClient(): RealtimeClient {
	return new RealtimeClient({
		url: realtimeUrl(location),
		checkSignedIn: async () => (await fetch('/api/v1/me')).status !== 401
	});
}
