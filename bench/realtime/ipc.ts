// The request/reply protocol between bench/realtime.ts and its two child processes (the servers in
// server.ts, the WebSocket clients in clients.ts), over Node's IPC channel.
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes. */
export const wallClock = () => performance.timeOrigin + performance.now();

export interface MemorySample {
	rss: number;
	heapUsed: number;
	/** Buffers outside the V8 heap: socket write queues hold the frames here. */
	external: number;
}

export interface PhaseStats {
	expected: number;
	delivered: number;
	missing: number;
	/** Fast connections closed by the server so far (slow consumer, …). */
	clientsCut: number;
	duplicates: number;
	outOfOrder: number;
	firstReceivedAt: number;
	lastReceivedAt: number;
	/** Commit (or send) to client, over every delivery. */
	latencyMs: { p50: number; p99: number; max: number };
	/** Commit to the last subscriber having it, per event. */
	fanOutMs: { p50: number; p99: number; max: number };
}

export interface ServerCommands {
	/** The raw `ws` baseline: sends each frame to every connected baseline client. */
	broadcast: { args: { frames: string[] }; result: null };
	memory: { args: { gc: boolean }; result: MemorySample };
	/** CPU time this process has used so far (user + system), in milliseconds. */
	cpu: { args: Record<string, never>; result: number };
	/** Samples memory (and the slow client's send queue) every 20 ms until `unwatch`. */
	watch: { args: Record<string, never>; result: null };
	unwatch: {
		args: Record<string, never>;
		result: { peak: MemorySample; slowQueuePeakBytes: number; slowClosedWith: number | null };
	};
	close: { args: Record<string, never>; result: null };
}

/** The realtime server's subscribers, or the baseline's. */
export type Group = 'realtime' | 'raw';

/** Where clients connect; with `runId`, each subscribes to that run's events after `afterSeq`. */
export interface Target {
	url: string;
	headers: Record<string, string>;
	runId?: string;
	afterSeq?: number;
}

export interface ClientCommands {
	clock: { args: Record<string, never>; result: number };
	cpu: { args: Record<string, never>; result: number };
	connect: {
		args: Target & { group: Group; count: number };
		result: { connected: number; seconds: number };
	};
	/** Expects events `firstSeq`… (`events` of them) on every connection of the group from now on. */
	phase: { args: { group: Group; firstSeq: number; events: number }; result: null };
	/** Ends the phase: `sentAt[i]` is when event `firstSeq + i` was committed (or sent). */
	finish: { args: { sentAt: number[] }; result: PhaseStats };
	/** One more connection, subscribed like the others, that stops reading from its socket. */
	connectSlow: { args: Target; result: null };
	/** Reads again; with `awaitClose`, waits (up to 10 s) for the server's close and reports its code. */
	resumeSlow: {
		args: { awaitClose: boolean };
		result: { closeCode: number | null };
	};
	/** Closes the group's connections until `keep` are left. */
	closeAll: { args: { group: Group; keep: number }; result: null };
}

/** What a child reports unasked: the clients their delivered count, the server the slow client's cut. */
export interface ChildEvents {
	ready: { port: number; rawPort: number };
	progress: number;
	slowClosed: number;
}

type Commands<C> = { [K in keyof C]: { args: unknown; result: unknown } };
type Request = { id: number; command: string; args: unknown };
type Reply = { id: number; result?: unknown; error?: string };
type Notice = { [K in keyof ChildEvents]: { event: K; value: ChildEvents[K] } }[keyof ChildEvents];

export function notify<K extends keyof ChildEvents>(event: K, value: ChildEvents[K]): void {
	process.send?.({ event, value });
}

/** The parent's side: `request('memory', { gc: true })`, and `on('progress', …)` for notices. */
export function channelTo<C extends Commands<C>>(child: ChildProcess) {
	let next = 0;
	const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
	const listeners = new Map<string, Set<(value: never) => void>>();
	child.on('message', (message: Reply | Notice) => {
		if ('event' in message) {
			for (const listener of listeners.get(message.event) ?? []) listener(message.value as never);
			return;
		}
		const waiting = pending.get(message.id);
		pending.delete(message.id);
		if (message.error !== undefined) waiting?.reject(new Error(message.error));
		else waiting?.resolve(message.result);
	});
	child.on('exit', (code) => {
		for (const waiting of pending.values()) waiting.reject(new Error(`child exited (${code})`));
		pending.clear();
	});
	return {
		request<K extends keyof C & string>(command: K, args: C[K]['args']): Promise<C[K]['result']> {
			const id = next++;
			return new Promise((resolve, reject) => {
				pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
				child.send({ id, command, args } satisfies Request);
			});
		},
		on<K extends keyof ChildEvents>(
			event: K,
			listener: (value: ChildEvents[K]) => void
		): () => void {
			let set = listeners.get(event);
			if (!set) listeners.set(event, (set = new Set()));
			set.add(listener);
			return () => set.delete(listener);
		}
	};
}

/** The child's side: answers each request with its handler's result. */
export function serve<C extends Commands<C>>(handlers: {
	[K in keyof C]: (args: C[K]['args']) => C[K]['result'] | Promise<C[K]['result']>;
}): void {
	process.on('message', (message: Request) => {
		const handler = (handlers as Record<string, ((args: unknown) => unknown) | undefined>)[
			message.command
		];
		Promise.resolve()
			.then(() => {
				if (!handler) throw new Error(`unknown command ${message.command}`);
				return handler(message.args);
			})
			.then(
				(result) => process.send?.({ id: message.id, result: result ?? null } satisfies Reply),
				(error: unknown) => process.send?.({ id: message.id, error: String(error) } satisfies Reply)
			);
	});
}
