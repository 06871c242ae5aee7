import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import {
	clientMessageSchema,
	closeCodes,
	type ClientMessage,
	type RealtimeErrorCode,
	type ServerMessage,
	type Topic
} from '../../schemas/realtime.ts';
import type { Principal } from '../principal.ts';
import {
	authorizeRunFeed,
	authorizeWorkspaceFeed,
	principalForCredential,
	type ConnectionCredential,
	type RealtimeContext
} from '../services/realtime.ts';
import { ServiceError } from '../errors.ts';
import type { RunHub, WorkspaceHub, FrameSink } from './hub.ts';
import type { RealtimeLimits } from './limits.ts';
import { TokenBucket } from './token-bucket.ts';

/** Frames held back to share one write per socket (see Connection.send). */
const corkBytes = 64 * 1024;

/** What every connection of one server shares. */
export interface ConnectionContext {
	services: RealtimeContext;
	limits: RealtimeLimits;
	runHub: RunHub;
	workspaceHub: WorkspaceHub;
	onError(error: unknown): void;
	/** Told once, when the socket closed (before its subscriptions are left). */
	onClosed(connection: Connection): void;
}

interface Subscription {
	workspaceId: string;
	topic: Topic;
	leave: (() => Promise<void>) | null;
	/** Unsubscribed (or replaced) while still joining. */
	cancelled: boolean;
}

/** Answers shared by the connections checked in one go. */
export interface RevalidationChecks {
	principals: Map<string, Promise<Principal | null>>;
	memberships: Map<string, Promise<boolean>>;
}

/**
 * One open socket: its subscriptions, the messages it sends (rate-limited, applied in order per
 * topic), the frames it is sent (batched, cut off when it falls behind), its heartbeat and the
 * periodic re-check of its credential and memberships.
 */
export class Connection implements FrameSink {
	readonly #ws: WebSocket;
	readonly #socket: Duplex;
	readonly #context: ConnectionContext;
	readonly #limits: RealtimeLimits;
	readonly #credential: ConnectionCredential;
	principal: Principal;
	#alive = true;
	readonly #subscriptions = new Map<string, Subscription>();
	readonly #messages: TokenBucket;
	/** Per topic, the last message being applied (see #dispatch). */
	readonly #queues = new Map<string, Promise<void>>();
	/** Subscribes accepted but not yet applied. */
	#reserved = 0;
	/** Bytes sent since the socket was corked in this turn; null when it is not. */
	#corked: number | null = null;
	#closing = false;
	/** When the periodic check comes round to this connection again (spread, not all at once). */
	dueAt: number;

	constructor(
		context: ConnectionContext,
		ws: WebSocket,
		socket: Duplex,
		credential: ConnectionCredential,
		principal: Principal
	) {
		this.#context = context;
		this.#limits = context.limits;
		this.#ws = ws;
		this.#socket = socket;
		this.#credential = credential;
		this.principal = principal;
		this.#messages = new TokenBucket(context.limits);
		this.dueAt = Date.now() + context.limits.revalidateMs * (0.5 + Math.random());
		ws.on('pong', () => (this.#alive = true));
		ws.on('message', (data, isBinary) => this.#receive(data, isBinary));
		ws.on('close', () => void this.#closed());
		ws.on('error', (error) =>
			context.services.logger.debug({ err: error }, 'realtime socket error')
		);
	}

	/** Every heartbeat: pings, or cuts a socket that did not answer the previous ping. */
	heartbeat(): void {
		if (!this.#alive) {
			this.#ws.terminate();
			return;
		}
		this.#alive = false;
		this.#ws.ping();
	}

	terminate(): void {
		this.#ws.terminate();
	}

	send(frame: Buffer): void {
		if (this.#closing || this.#ws.readyState !== this.#ws.OPEN) return;
		// Frames sent in one turn of the event loop (a commit's events) leave in one write, up to
		// corkBytes; what waits for that write is not the client's backlog.
		if (this.#corked !== null && this.#corked + frame.length > corkBytes) this.#uncork();
		if (
			this.#ws.bufferedAmount - (this.#corked ?? 0) + frame.length >
			this.#limits.maxBufferedBytes
		) {
			this.close(closeCodes.slowConsumer, 'slow consumer: reconnect and resume');
			return;
		}
		if (this.#corked === null) {
			this.#corked = 0;
			this.#socket.cork();
			setImmediate(() => this.#uncork());
		}
		this.#corked += frame.length;
		this.#ws.send(frame, { binary: false });
	}

	#uncork(): void {
		if (this.#corked === null) return;
		this.#corked = null;
		this.#socket.uncork();
	}

	/** Waits until the socket drained below half its buffer (replays send page by page). */
	async ready(): Promise<void> {
		const deadline = Date.now() + 30_000;
		while (!this.#closing && this.#ws.bufferedAmount > this.#limits.maxBufferedBytes / 2) {
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
				this.#socket.once('drain', done);
			});
		}
	}

	#reply(message: ServerMessage): void {
		this.send(Buffer.from(JSON.stringify(message)));
	}

	#error(code: RealtimeErrorCode, message: string, extra: { id?: string } & Partial<Topic> = {}) {
		const { id, ...topic } = extra;
		this.#reply({
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
		this.#ws.close(code, reason);
		// A client that does not read will not read the close frame either.
		setTimeout(() => this.#ws.terminate(), 5_000).unref();
	}

	#receive(data: RawData, isBinary: boolean): void {
		this.#alive = true;
		if (this.#closing) return;
		const verdict = this.#messages.take();
		if (verdict !== 'accept') {
			if (verdict === 'close') this.close(closeCodes.rateLimited, 'too many messages');
			else this.#error('rate_limited', 'Too many messages; slow down.');
			return;
		}
		if (isBinary) {
			this.#error('invalid_message', 'Messages are JSON text frames.');
			return;
		}
		let parsed: unknown;
		try {
			parsed = JSON.parse(data.toString());
		} catch {
			this.#error('invalid_message', 'The message is not JSON.');
			return;
		}
		const result = clientMessageSchema.safeParse(parsed);
		if (!result.success) {
			const issue = result.error.issues[0];
			const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
			const id = (parsed as { id?: unknown } | null)?.id;
			this.#error('invalid_message', `${issue?.message ?? 'Invalid message'}${where}.`, {
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
		if (message.type === 'ping') return this.#reply({ type: 'pong', ...id });
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
				this.#subscriptions.size + this.#reserved - (this.#subscriptions.has(key) ? 1 : 0);
			if (held >= this.#limits.maxSubscriptions)
				return this.#error(
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
				subscribing ? this.#subscribe(key, ref, id, release) : this.#unsubscribeTopic(key, ref, id)
			)
			.catch((error: unknown) => {
				this.#context.onError(error);
				this.#error('internal', 'Something went wrong on our side; try again.', context);
			})
			.finally(() => {
				release();
				if (this.#queues.get(key) === step) this.#queues.delete(key);
			});
		this.#queues.set(key, step);
	}

	async #unsubscribeTopic(key: string, ref: Topic, id: { id?: string }): Promise<void> {
		await this.#unsubscribe(key);
		this.#reply(
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
		const { services, runHub, workspaceHub } = this.#context;
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
			return this.#error('not_found', error.message, { ...id, ...ref });
		}
		if (this.#closing) return;
		const entry: Subscription = { workspaceId, topic: ref, leave: null, cancelled: false };
		this.#subscriptions.set(key, entry);
		release();
		this.#reply({ type: 'subscribed', ...id, ...ref });
		try {
			entry.leave =
				ref.topic === 'run'
					? await runHub.follow(ref.runId, ref.afterSeq, this)
					: await workspaceHub.follow(ref.workspaceId, this);
		} catch (error) {
			if (this.#subscriptions.get(key) === entry) this.#subscriptions.delete(key);
			throw error;
		}
		// The socket closed (or access was revoked) during the replay.
		if (entry.cancelled) await entry.leave();
	}

	async #unsubscribe(key: string): Promise<void> {
		const entry = this.#subscriptions.get(key);
		if (!entry) return;
		this.#subscriptions.delete(key);
		entry.cancelled = true;
		await entry.leave?.();
	}

	/**
	 * Checks the credential and every subscription's workspace again. `checks` shares the answers
	 * among the connections checked together (one query per session and per membership).
	 */
	async revalidate(checks: RevalidationChecks): Promise<void> {
		if (this.#closing) return;
		const { services } = this.#context;
		this.dueAt = Date.now() + this.#limits.revalidateMs;
		const credentialKey =
			this.#credential.kind === 'session'
				? `session:${this.#credential.sessionId}`
				: `token:${this.#credential.tokenId}`;
		let principalCheck = checks.principals.get(credentialKey);
		if (!principalCheck) {
			principalCheck = principalForCredential(services, this.#credential);
			checks.principals.set(credentialKey, principalCheck);
		}
		const principal = await principalCheck;
		if (principal === null) {
			this.close(closeCodes.unauthorized, 'signed out');
			return;
		}
		this.principal = principal;
		for (const [key, entry] of this.#subscriptions) {
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
			this.#error('access_revoked', 'You no longer have access to this.', entry.topic);
		}
	}

	async #closed(): Promise<void> {
		this.#closing = true;
		this.#context.onClosed(this);
		const leaving = [...this.#subscriptions.keys()].map((key) => this.#unsubscribe(key));
		await Promise.all(leaving).catch((error: unknown) => this.#context.onError(error));
	}
}
