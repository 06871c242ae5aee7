import type { IncomingMessage } from 'node:http';
import { parse as parseCookies } from 'cookie';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
	clientMessageSchema,
	closeCodes,
	type ClientMessage,
	type RealtimeErrorCode,
	type ServerMessage,
	type Topic
} from '../../schemas/realtime.ts';
import { sessionCookieName, sessionIdOf } from '../auth/session.ts';
import type { Principal } from '../principal.ts';
import {
	authorizeRunFeed,
	authorizeWorkspaceFeed,
	principalForCredential,
	redeemRealtimeTicket,
	type ConnectionCredential,
	type RealtimeContext
} from '../services/realtime.ts';
import { ServiceError } from '../errors.ts';
import { accessChangedChannel, type AccessChanged } from '../channels.ts';
import { isRealtimeRequest } from './path.ts';
import { RunHub, WorkspaceHub, type FrameSink } from './hub.ts';

export { isRealtimeRequest, realtimePath } from './path.ts';

/** Frames held back to share one write per socket (see Connection.send). */
const corkBytes = 64 * 1024;

export interface RealtimeLimits {
	/** Largest client message (bytes); larger closes the socket with 1009. */
	maxPayload: number;
	/** Bytes a socket may have queued for sending; a client that lets more pile up is disconnected (4008). */
	maxBufferedBytes: number;
	/** Ping interval; a socket that did not answer the previous ping is terminated. */
	heartbeatMs: number;
	/** How often every connection's session or token and memberships are checked again. */
	revalidateMs: number;
	/** Client messages: a token bucket per socket. */
	messageBurst: number;
	messagesPerSecond: number;
	/** Messages answered `rate_limited` before the socket is closed (4029). */
	maxRateLimited: number;
	maxSubscriptions: number;
	maxConnectionsPerUser: number;
}

export const defaultLimits: RealtimeLimits = {
	maxPayload: 64 * 1024,
	maxBufferedBytes: 1024 * 1024,
	heartbeatMs: 30_000,
	revalidateMs: 60_000,
	messageBurst: 40,
	messagesPerSecond: 20,
	maxRateLimited: 20,
	maxSubscriptions: 100,
	maxConnectionsPerUser: 50
};

export interface RealtimeServerOptions {
	services: RealtimeContext;
	/** The app's public origin (ORIGIN); without it, the origin the request was made to. */
	origin?: string;
	/** Headers a trusted proxy sets (adapter-node's PROTOCOL_HEADER and HOST_HEADER). */
	protocolHeader?: string;
	hostHeader?: string;
	limits?: Partial<RealtimeLimits>;
}

export interface RealtimeServer {
	/**
	 * Takes over an HTTP upgrade request: for `/ws`, authenticates it, then opens the WebSocket; any
	 * other path is answered 404.
	 */
	handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
	readonly connections: number;
	/** Closes every socket (1001) and stops following runs. */
	close(): Promise<void>;
}

interface Subscription {
	workspaceId: string;
	topic: Topic;
	leave: (() => Promise<void>) | null;
	/** Unsubscribed (or replaced) while still joining. */
	cancelled: boolean;
}

/** Answers shared by the connections checked in one go. */
interface RevalidationChecks {
	principals: Map<string, Promise<Principal | null>>;
	memberships: Map<string, Promise<boolean>>;
}

type Rejection = { status: number; title: string; detail: string };

const statusText: Record<number, string> = {
	401: 'Unauthorized',
	403: 'Forbidden',
	404: 'Not Found',
	429: 'Too Many Requests',
	500: 'Internal Server Error'
};

function reject(socket: Duplex, { status, title, detail }: Rejection): void {
	if (socket.destroyed) return;
	const body = JSON.stringify({ type: 'about:blank', title, status, detail });
	socket.end(
		`HTTP/1.1 ${status} ${statusText[status] ?? 'Error'}\r\n` +
			'Connection: close\r\n' +
			'Content-Type: application/problem+json\r\n' +
			`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
	);
}

const first = (value: string | string[] | undefined) =>
	(Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();

/**
 * The `/ws` WebSocket server: authenticates the upgrade (session cookie from our own origin, or a
 * single-use ticket), then serves the protocol in src/lib/schemas/realtime.ts (docs/realtime.md).
 * Attached to the app's HTTP server, to `vite dev`, or run alone as the realtime sidecar.
 */
export function createRealtimeServer(options: RealtimeServerOptions): RealtimeServer {
	const { services } = options;
	const { logger } = services;
	const limits = { ...defaultLimits, ...options.limits };
	const wss = new WebSocketServer({
		noServer: true,
		maxPayload: limits.maxPayload,
		// Compression costs CPU per socket per message and opens compression side channels.
		perMessageDeflate: false
	});
	const onError = (error: unknown) => logger.error({ err: error }, 'realtime error');
	const runHub = new RunHub({ db: services.db, bus: services.bus, onError });
	const workspaceHub = new WorkspaceHub({ bus: services.bus });
	const connections = new Set<Connection>();
	const byUser = new Map<string, Set<Connection>>();
	let closed = false;

	function expectedOrigin(request: IncomingMessage): string | null {
		if (options.origin) return new URL(options.origin).origin;
		const host = options.hostHeader
			? first(request.headers[options.hostHeader.toLowerCase()])
			: request.headers.host;
		const protocol =
			(options.protocolHeader && first(request.headers[options.protocolHeader.toLowerCase()])) ||
			('encrypted' in request.socket && request.socket.encrypted ? 'https' : 'http');
		if (!host) return null;
		try {
			return new URL(`${protocol}://${host}`).origin;
		} catch {
			return null;
		}
	}

	async function authenticate(
		request: IncomingMessage
	): Promise<{ credential: ConnectionCredential; principal: Principal } | Rejection> {
		const url = new URL(request.url ?? '/', 'http://localhost');
		const ticket = url.searchParams.get('ticket');
		let credential: ConnectionCredential | null = null;
		if (ticket !== null) {
			// A ticket is no ambient credential: any origin (or none, outside browsers) may use it.
			credential = await redeemRealtimeTicket(services, ticket);
			if (credential === null)
				return {
					status: 401,
					title: 'Invalid ticket',
					detail: 'The ticket is invalid, expired or already used.'
				};
		} else {
			const expected = expectedOrigin(request);
			const token = parseCookies(request.headers.cookie ?? '')[
				sessionCookieName(expected?.startsWith('https:') ?? false)
			];
			// The cookie comes with every request to us, whoever's page made it: only our own pages may
			// use it (cross-site WebSocket hijacking).
			if (token !== undefined && (expected === null || request.headers.origin !== expected))
				return {
					status: 403,
					title: 'Cross-origin',
					detail: 'WebSocket connections with the session cookie must come from this origin.'
				};
			if (token !== undefined && /^[a-z2-7]{32}$/.test(token))
				credential = { kind: 'session', sessionId: sessionIdOf(token) };
		}
		const principal = credential && (await principalForCredential(services, credential));
		if (!credential || !principal)
			return {
				status: 401,
				title: 'Unauthorized',
				detail: 'Sign in, or connect with a ticket from POST /api/v1/realtime/ticket.'
			};
		return { credential, principal };
	}

	function track(connection: Connection): void {
		connections.add(connection);
		const userId = connection.principal.user.id;
		let set = byUser.get(userId);
		if (!set) byUser.set(userId, (set = new Set()));
		set.add(connection);
	}

	function untrack(connection: Connection): void {
		connections.delete(connection);
		const userId = connection.principal.user.id;
		const set = byUser.get(userId);
		set?.delete(connection);
		if (set?.size === 0) byUser.delete(userId);
	}

	class Connection implements FrameSink {
		readonly ws: WebSocket;
		readonly socket: Duplex;
		readonly credential: ConnectionCredential;
		principal: Principal;
		alive = true;
		readonly subscriptions = new Map<string, Subscription>();
		#tokens = limits.messageBurst;
		/** Per topic, the last message being applied (see #dispatch). */
		readonly #queues = new Map<string, Promise<void>>();
		/** Subscribes accepted but not yet applied. */
		#reserved = 0;
		/** Bytes sent since the socket was corked in this turn; null when it is not. */
		#corked: number | null = null;
		#refilledAt = Date.now();
		#rateLimited = 0;
		#closing = false;

		constructor(
			ws: WebSocket,
			socket: Duplex,
			credential: ConnectionCredential,
			principal: Principal
		) {
			this.ws = ws;
			this.socket = socket;
			this.credential = credential;
			this.principal = principal;
			ws.on('pong', () => (this.alive = true));
			ws.on('message', (data, isBinary) => this.#receive(data, isBinary));
			ws.on('close', () => void this.#closed());
			ws.on('error', (error) => logger.debug({ err: error }, 'realtime socket error'));
		}

		send(frame: Buffer): void {
			if (this.#closing || this.ws.readyState !== this.ws.OPEN) return;
			// Frames sent in one turn of the event loop (a commit's events) leave in one write, up to
			// corkBytes; what waits for that write is not the client's backlog.
			if (this.#corked !== null && this.#corked + frame.length > corkBytes) this.#uncork();
			if (this.ws.bufferedAmount - (this.#corked ?? 0) + frame.length > limits.maxBufferedBytes) {
				this.close(closeCodes.slowConsumer, 'slow consumer: reconnect and resume');
				return;
			}
			if (this.#corked === null) {
				this.#corked = 0;
				this.socket.cork();
				setImmediate(() => this.#uncork());
			}
			this.#corked += frame.length;
			this.ws.send(frame, { binary: false });
		}

		#uncork(): void {
			if (this.#corked === null) return;
			this.#corked = null;
			this.socket.uncork();
		}

		/** Waits until the socket drained below half its buffer (replays send page by page). */
		async ready(): Promise<void> {
			const deadline = Date.now() + 30_000;
			while (!this.#closing && this.ws.bufferedAmount > limits.maxBufferedBytes / 2) {
				if (Date.now() > deadline) {
					this.close(closeCodes.slowConsumer, 'slow consumer: reconnect and resume');
					return;
				}
				await new Promise<void>((resolve) => {
					const timer = setTimeout(done, 50);
					function done() {
						clearTimeout(timer);
						resolve();
					}
					this.socket.once('drain', done);
				});
			}
		}

		reply(message: ServerMessage): void {
			this.send(Buffer.from(JSON.stringify(message)));
		}

		error(code: RealtimeErrorCode, message: string, extra: { id?: string } & Partial<Topic> = {}) {
			const { id, ...topic } = extra;
			this.reply({
				type: 'error',
				...(id === undefined ? {} : { id }),
				code,
				message,
				...('runId' in topic && topic.runId ? { runId: topic.runId } : {}),
				...('workspaceId' in topic && topic.workspaceId ? { workspaceId: topic.workspaceId } : {})
			});
		}

		close(code: number, reason: string): void {
			if (this.#closing) return;
			this.#closing = true;
			this.ws.close(code, reason);
			// A client that does not read will not read the close frame either.
			setTimeout(() => this.ws.terminate(), 5_000).unref();
		}

		#allow(): boolean {
			const now = Date.now();
			this.#tokens = Math.min(
				limits.messageBurst,
				this.#tokens + ((now - this.#refilledAt) / 1000) * limits.messagesPerSecond
			);
			this.#refilledAt = now;
			if (this.#tokens >= 1) {
				this.#tokens -= 1;
				return true;
			}
			return false;
		}

		#receive(data: RawData, isBinary: boolean): void {
			this.alive = true;
			if (this.#closing) return;
			if (!this.#allow()) {
				this.#rateLimited += 1;
				if (this.#rateLimited > limits.maxRateLimited)
					this.close(closeCodes.rateLimited, 'too many messages');
				else this.error('rate_limited', 'Too many messages; slow down.');
				return;
			}
			if (isBinary) {
				this.error('invalid_message', 'Messages are JSON text frames.');
				return;
			}
			let parsed: unknown;
			try {
				parsed = JSON.parse(data.toString());
			} catch {
				this.error('invalid_message', 'The message is not JSON.');
				return;
			}
			const result = clientMessageSchema.safeParse(parsed);
			if (!result.success) {
				const issue = result.error.issues[0];
				const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
				const id = (parsed as { id?: unknown } | null)?.id;
				this.error('invalid_message', `${issue?.message ?? 'Invalid message'}${where}.`, {
					...(typeof id === 'string' && id.length <= 64 ? { id } : {})
				});
				return;
			}
			this.#dispatch(result.data);
		}

		/**
		 * Messages about one topic take effect one after another, in the order they came (a subscribe
		 * and the unsubscribe right behind it); different topics proceed side by side. A subscribe
		 * holds its place under the subscription limit from the moment it arrives.
		 */
		#dispatch(message: ClientMessage): void {
			const id = message.id === undefined ? {} : { id: message.id };
			if (message.type === 'ping') return this.reply({ type: 'pong', ...id });
			const ref: Topic =
				message.topic === 'run'
					? {
							topic: 'run',
							runId: message.runId,
							afterSeq: 'afterSeq' in message ? message.afterSeq : 0
						}
					: { topic: 'workspace', workspaceId: message.workspaceId };
			const context = { ...id, ...ref };
			const key = ref.topic === 'run' ? `run:${ref.runId}` : `workspace:${ref.workspaceId}`;
			const subscribing = message.type === 'subscribe';
			if (subscribing) {
				const held =
					this.subscriptions.size + this.#reserved - (this.subscriptions.has(key) ? 1 : 0);
				if (held >= limits.maxSubscriptions)
					return this.error(
						'too_many_subscriptions',
						'Too many subscriptions on this connection.',
						context
					);
				this.#reserved += 1;
			}
			// The reservation ends when the subscription takes its place (or does not happen).
			let reserved = subscribing;
			const release = () => {
				if (reserved) this.#reserved -= 1;
				reserved = false;
			};
			const step = (this.#queues.get(key) ?? Promise.resolve())
				.then(() =>
					subscribing
						? this.#subscribe(key, ref, id, release)
						: this.#unsubscribeTopic(key, ref, id)
				)
				.catch((error: unknown) => {
					onError(error);
					this.error('internal', 'Something went wrong on our side; try again.', context);
				})
				.finally(() => {
					release();
					if (this.#queues.get(key) === step) this.#queues.delete(key);
				});
			this.#queues.set(key, step);
		}

		async #unsubscribeTopic(key: string, ref: Topic, id: { id?: string }): Promise<void> {
			await this.#unsubscribe(key);
			this.reply(
				ref.topic === 'run'
					? { type: 'unsubscribed', ...id, topic: 'run', runId: ref.runId }
					: { type: 'unsubscribed', ...id, topic: 'workspace', workspaceId: ref.workspaceId }
			);
		}

		/** Authorizes, answers `subscribed`, replays and joins the live stream. */
		async #subscribe(
			key: string,
			ref: Topic,
			id: { id?: string },
			release: () => void
		): Promise<void> {
			// Subscribing again to a topic starts over from the new cursor (the client lost track).
			await this.#unsubscribe(key);
			let workspaceId: string;
			try {
				if (ref.topic === 'run') {
					({ workspaceId } = await authorizeRunFeed(services, this.principal, ref.runId));
				} else {
					await authorizeWorkspaceFeed(services, this.principal, ref.workspaceId);
					workspaceId = ref.workspaceId;
				}
			} catch (error) {
				if (!(error instanceof ServiceError)) throw error;
				return this.error('not_found', error.message, { ...id, ...ref });
			}
			if (this.#closing) return;
			const entry: Subscription = { workspaceId, topic: ref, leave: null, cancelled: false };
			this.subscriptions.set(key, entry);
			release();
			this.reply({ type: 'subscribed', ...id, ...ref });
			try {
				entry.leave =
					ref.topic === 'run'
						? await runHub.follow(ref.runId, ref.afterSeq, this)
						: await workspaceHub.follow(ref.workspaceId, this);
			} catch (error) {
				if (this.subscriptions.get(key) === entry) this.subscriptions.delete(key);
				throw error;
			}
			// The socket closed (or access was revoked) during the replay.
			if (entry.cancelled) await entry.leave();
		}

		async #unsubscribe(key: string): Promise<void> {
			const entry = this.subscriptions.get(key);
			if (!entry) return;
			this.subscriptions.delete(key);
			entry.cancelled = true;
			await entry.leave?.();
		}

		/** When the periodic check comes round to this connection again (spread, not all at once). */
		dueAt = Date.now() + limits.revalidateMs * (0.5 + Math.random());

		/**
		 * Checks the credential and every subscription's workspace again. `checks` shares the answers
		 * among the connections checked together (one query per session and per membership).
		 */
		async revalidate(checks: RevalidationChecks): Promise<void> {
			if (this.#closing) return;
			this.dueAt = Date.now() + limits.revalidateMs;
			const credentialKey =
				this.credential.kind === 'session'
					? `session:${this.credential.sessionId}`
					: `token:${this.credential.tokenId}`;
			let principalCheck = checks.principals.get(credentialKey);
			if (!principalCheck) {
				principalCheck = principalForCredential(services, this.credential);
				checks.principals.set(credentialKey, principalCheck);
			}
			const principal = await principalCheck;
			if (principal === null) {
				this.close(closeCodes.unauthorized, 'signed out');
				return;
			}
			this.principal = principal;
			for (const [key, entry] of this.subscriptions) {
				const verdictKey = `${credentialKey}:${entry.workspaceId}`;
				let allowed = checks.memberships.get(verdictKey);
				if (!allowed) {
					allowed = authorizeWorkspaceFeed(services, principal, entry.workspaceId).then(
						() => true,
						(error: unknown) => {
							if (error instanceof ServiceError) return false;
							throw error;
						}
					);
					checks.memberships.set(verdictKey, allowed);
				}
				if (await allowed) continue;
				await this.#unsubscribe(key);
				this.error('access_revoked', 'You no longer have access to this.', entry.topic);
			}
		}

		async #closed(): Promise<void> {
			this.#closing = true;
			untrack(this);
			const leaving = [...this.subscriptions.keys()].map((key) => this.#unsubscribe(key));
			await Promise.all(leaving).catch(onError);
		}
	}

	const heartbeat = setInterval(() => {
		for (const connection of connections) {
			if (!connection.alive) {
				connection.ws.terminate();
				continue;
			}
			connection.alive = false;
			connection.ws.ping();
		}
	}, limits.heartbeatMs);
	heartbeat.unref();

	const revalidate = (list: Iterable<Connection>) => {
		const checks: RevalidationChecks = { principals: new Map(), memberships: new Map() };
		return Promise.all([...list].map((connection) => connection.revalidate(checks).catch(onError)));
	};
	// Each connection is checked about every revalidateMs, at its own moment: a sweep of thousands
	// of connections at once would stall everyone's events.
	let sweeping = false;
	const revalidation = setInterval(
		() => {
			if (sweeping) return;
			const now = Date.now();
			const due = [...connections].filter((connection) => connection.dueAt <= now);
			if (due.length === 0) return;
			sweeping = true;
			void revalidate(due).finally(() => (sweeping = false));
		},
		Math.min(1_000, limits.revalidateMs)
	);
	revalidation.unref();

	const accessSubscription = services.bus
		.subscribe(accessChangedChannel, (message) => {
			const userId = (message as AccessChanged | null)?.userId;
			const affected = typeof userId === 'string' ? byUser.get(userId) : undefined;
			if (affected) void revalidate(affected);
		})
		.catch((error: unknown) => {
			onError(error);
			return async () => {};
		});

	return {
		get connections() {
			return connections.size;
		},

		handleUpgrade(request, socket, head) {
			socket.on('error', () => socket.destroy());
			if (!isRealtimeRequest(request)) {
				socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
				return;
			}
			if (closed)
				return reject(socket, {
					status: 500,
					title: 'Closing',
					detail: 'The server is shutting down.'
				});
			authenticate(request).then(
				(outcome) => {
					if ('status' in outcome) return reject(socket, outcome);
					const userId = outcome.principal.user.id;
					if ((byUser.get(userId)?.size ?? 0) >= limits.maxConnectionsPerUser)
						return reject(socket, {
							status: 429,
							title: 'Too many connections',
							detail: `At most ${limits.maxConnectionsPerUser} realtime connections per user.`
						});
					if (closed || socket.destroyed) return socket.destroy();
					wss.handleUpgrade(request, socket, head, (ws) => {
						const connection = new Connection(ws, socket, outcome.credential, outcome.principal);
						track(connection);
						logger.debug({ userId }, 'realtime connection opened');
					});
				},
				(error: unknown) => {
					onError(error);
					reject(socket, {
						status: 500,
						title: 'Internal error',
						detail: 'Something went wrong on our side.'
					});
				}
			);
		},

		async close() {
			if (closed) return;
			closed = true;
			clearInterval(heartbeat);
			clearInterval(revalidation);
			for (const connection of connections) connection.close(1001, 'server shutting down');
			const unsubscribe = await accessSubscription;
			await unsubscribe().catch(() => {});
			await Promise.all([runHub.close(), workspaceHub.close()]);
			// Give clients a moment to answer the close frame, then cut whoever did not.
			for (let waited = 0; connections.size > 0 && waited < 1_000; waited += 50)
				await new Promise((resolve) => setTimeout(resolve, 50));
			for (const connection of connections) connection.ws.terminate();
			await new Promise<void>((resolve) => wss.close(() => resolve()));
		}
	};
}
