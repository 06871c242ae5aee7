import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { RealtimeContext } from '../services/realtime.ts';
import { accessChangedChannel, type AccessChanged } from '../channels.ts';
import { Connection, type ConnectionContext, type RevalidationChecks } from './connection.ts';
import { RunHub, WorkspaceHub } from './hub.ts';
import { defaultLimits, type RealtimeLimits } from './limits.ts';
import { admitUpgrade, type UpgradeGate } from './upgrade-auth.ts';

export { isRealtimeRequest, realtimePath } from './path.ts';
export { defaultLimits, type RealtimeLimits } from './limits.ts';

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

	const context: ConnectionContext = {
		services,
		limits,
		runHub,
		workspaceHub,
		onError,
		onClosed: untrack
	};

	const gate: UpgradeGate = {
		services,
		origin: options.origin,
		protocolHeader: options.protocolHeader,
		hostHeader: options.hostHeader,
		maxConnectionsPerUser: limits.maxConnectionsPerUser,
		connectionsOf: (userId) => byUser.get(userId)?.size ?? 0,
		isClosed: () => closed,
		onError
	};

	const heartbeat = setInterval(() => {
		for (const connection of connections) connection.heartbeat();
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
			void admitUpgrade(gate, request, socket, ({ credential, principal }) =>
				wss.handleUpgrade(request, socket, head, (ws) => {
					track(new Connection(context, ws, socket, credential, principal));
					logger.debug({ userId: principal.user.id }, 'realtime connection opened');
				})
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
			for (const connection of connections) connection.terminate();
			await new Promise<void>((resolve) => wss.close(() => resolve()));
		}
	};
}
