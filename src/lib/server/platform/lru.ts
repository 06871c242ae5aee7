/**
 * A map that keeps at most `capacity` entries, forgetting the least recently used first. For
 * in-memory caches of values that never change once they exist (a workflow version's definition),
 * so that a cache only bounds memory and never needs invalidating.
 */
export class LruCache<K, V> {
	readonly #entries = new Map<K, V>();
	readonly #capacity: number;

	constructor(capacity: number) {
		if (!Number.isInteger(capacity) || capacity < 1) throw new Error('capacity must be ≥ 1');
		this.#capacity = capacity;
	}

	get size(): number {
		return this.#entries.size;
	}

	get(key: K): V | undefined {
		const value = this.#entries.get(key);
		if (value === undefined) return undefined;
		// A Map iterates in insertion order: re-inserting makes this entry the most recent.
		this.#entries.delete(key);
		this.#entries.set(key, value);
		return value;
	}

	set(key: K, value: V): void {
		this.#entries.delete(key);
		this.#entries.set(key, value);
		if (this.#entries.size > this.#capacity) {
			const oldest = this.#entries.keys().next();
			if (!oldest.done) this.#entries.delete(oldest.value);
		}
	}
}
