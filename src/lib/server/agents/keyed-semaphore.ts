/**
 * At most `limit` holders per key at once, first come first served. Used to keep the requests to
 * one model provider under its concurrency limit across every agent turn of the process.
 */
export function createKeyedSemaphore() {
	const lanes = new Map<string, { holders: number; waiting: (() => void)[] }>();

	/** Resolves with a release function once a slot is free; rejects with the signal's reason. */
	function acquire(key: string, limit: number, signal?: AbortSignal): Promise<() => void> {
		signal?.throwIfAborted();
		const lane = lanes.get(key) ?? { holders: 0, waiting: [] };
		lanes.set(key, lane);
		let released = false;
		const release = () => {
			if (released) return;
			released = true;
			const next = lane.waiting.shift();
			if (next === undefined) {
				lane.holders--;
				if (lane.holders === 0) lanes.delete(key);
			} else {
				next();
			}
		};
		if (lane.holders < limit) {
			lane.holders++;
			return Promise.resolve(release);
		}
		return new Promise((resolve, reject) => {
			const grant = () => {
				signal?.removeEventListener('abort', leave);
				resolve(release);
			};
			const leave = () => {
				lane.waiting.splice(lane.waiting.indexOf(grant), 1);
				reject(signal?.reason as Error);
			};
			lane.waiting.push(grant);
			signal?.addEventListener('abort', leave, { once: true });
		});
	}

	return { acquire };
}

export type KeyedSemaphore = ReturnType<typeof createKeyedSemaphore>;
