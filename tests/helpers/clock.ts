import type { RateLimiter } from '../../src/lib/server/auth/rate-limit.ts';

/** A controllable clock: tests move time instead of waiting. */
export function createClock(start = new Date('2026-01-01T00:00:00Z')) {
	let now = start.getTime();
	return {
		now: () => new Date(now),
		advance(ms: number) {
			now += ms;
		}
	};
}

/**
 * A memory rate limiter that keeps time by `clock`. rate-limiter-flexible's memory store has no clock
 * to pass in: it reads `Date.now()` synchronously inside each call, so each call runs with `Date.now`
 * on the test clock. Nothing else runs during a synchronous call, so no other code sees the swap.
 * (The store also drops a key by a real timer after the policy's duration, at least a minute: longer
 * than any test may run.)
 */
export function limiterOnClock(limiter: RateLimiter, clock: { now(): Date }): RateLimiter {
	function onClock<T>(call: () => T): T {
		const realNow = Date.now;
		Date.now = () => clock.now().getTime();
		try {
			return call();
		} finally {
			Date.now = realNow;
		}
	}
	return {
		consume: (key, policy) => onClock(() => limiter.consume(key, policy)),
		peek: (key, policy) => onClock(() => limiter.peek(key, policy)),
		reset: (key, policy) => onClock(() => limiter.reset(key, policy))
	};
}
