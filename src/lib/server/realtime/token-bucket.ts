import type { RealtimeLimits } from './limits.ts';

type BucketLimits = Pick<RealtimeLimits, 'messageBurst' | 'messagesPerSecond' | 'maxRateLimited'>;

/** What becomes of one client message: handled, answered `rate_limited`, or the socket closed (4029). */
export type MessageVerdict = 'accept' | 'rate-limited' | 'close';

/**
 * One socket's message rate limit: `messageBurst` tokens, refilled at `messagesPerSecond`. A client
 * that goes on after `maxRateLimited` refusals is not slowing down, so it is cut off.
 */
export class TokenBucket {
	readonly #limits: BucketLimits;
	readonly #now: () => number;
	#tokens: number;
	#refilledAt: number;
	#refused = 0;

	constructor(limits: BucketLimits, now: () => number = Date.now) {
		this.#limits = limits;
		this.#now = now;
		this.#tokens = limits.messageBurst;
		this.#refilledAt = now();
	}

	take(): MessageVerdict {
		const now = this.#now();
		this.#tokens = Math.min(
			this.#limits.messageBurst,
			this.#tokens + ((now - this.#refilledAt) / 1000) * this.#limits.messagesPerSecond
		);
		this.#refilledAt = now;
		if (this.#tokens >= 1) {
			this.#tokens -= 1;
			return 'accept';
		}
		this.#refused += 1;
		return this.#refused > this.#limits.maxRateLimited ? 'close' : 'rate-limited';
	}
}
