/**
 * Publish/subscribe by channel. Messages are JSON values: the in-process bus round-trips them through
 * JSON like Redis does, so code behaves the same on both. Delivery is best-effort (at most once);
 * anything that must not be lost lives in PostgreSQL, never only on the bus.
 */
export type BusHandler = (message: unknown) => void;
export type Unsubscribe = () => Promise<void>;

export interface EventBus {
	readonly kind: 'in-process' | 'redis';
	publish(channel: string, message: unknown): Promise<void>;
	subscribe(channel: string, handler: BusHandler): Promise<Unsubscribe>;
	/** Rejects when the bus cannot deliver (Redis unreachable). */
	ping(): Promise<void>;
	close(): Promise<void>;
}

export type BusErrorReporter = (error: unknown, channel: string) => void;

/** Keeps handlers per channel and reports, rather than propagates, a handler's exception. */
export class HandlerRegistry {
	readonly #handlers = new Map<string, Set<BusHandler>>();
	readonly #onError: BusErrorReporter;

	constructor(onError: BusErrorReporter) {
		this.#onError = onError;
	}

	/** Returns true when this is the channel's first handler. */
	add(channel: string, handler: BusHandler): boolean {
		let set = this.#handlers.get(channel);
		const first = set === undefined;
		if (!set) this.#handlers.set(channel, (set = new Set()));
		set.add(handler);
		return first;
	}

	/** Returns true when the channel has no handler left. */
	remove(channel: string, handler: BusHandler): boolean {
		const set = this.#handlers.get(channel);
		if (!set?.delete(handler)) return false;
		if (set.size > 0) return false;
		this.#handlers.delete(channel);
		return true;
	}

	deliver(channel: string, json: string): void {
		const set = this.#handlers.get(channel);
		if (!set) return;
		for (const handler of [...set]) {
			try {
				handler(JSON.parse(json));
			} catch (error) {
				this.#onError(error, channel);
			}
		}
	}

	clear(): void {
		this.#handlers.clear();
	}
}

export function createInProcessBus(onError: BusErrorReporter): EventBus {
	const registry = new HandlerRegistry(onError);
	let closed = false;
	return {
		kind: 'in-process',
		async publish(channel, message) {
			if (closed) throw new Error('event bus is closed');
			const json = JSON.stringify(message);
			// Asynchronous like a network bus, so publishers never run subscriber code inline.
			queueMicrotask(() => registry.deliver(channel, json));
		},
		async subscribe(channel, handler) {
			if (closed) throw new Error('event bus is closed');
			registry.add(channel, handler);
			return async () => {
				registry.remove(channel, handler);
			};
		},
		async ping() {
			if (closed) throw new Error('event bus is closed');
		},
		async close() {
			closed = true;
			registry.clear();
		}
	};
}
