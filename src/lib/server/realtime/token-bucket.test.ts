import { describe, expect, it } from 'vitest';
import { defaultLimits } from './limits.ts';
import { TokenBucket } from './token-bucket.ts';

/** A bucket with the server's default limits on a clock the test moves. */
function bucketAt(start = 1_000_000) {
	let now = start;
	const bucket = new TokenBucket(defaultLimits, () => now);
	return {
		take: () => bucket.take(),
		/** `count` messages at this instant, and what became of each. */
		takeMany: (count: number) => Array.from({ length: count }, () => bucket.take()),
		advance(ms: number) {
			now += ms;
		}
	};
}

describe('the per-socket message rate limit', () => {
	it('accepts a burst of 40 messages at once, then answers rate_limited', () => {
		const bucket = bucketAt();
		expect(bucket.takeMany(40)).toEqual(Array(40).fill('accept'));
		expect(bucket.take()).toBe('rate-limited');
	});

	it('refills 20 messages a second, never beyond the burst', () => {
		const bucket = bucketAt();
		bucket.takeMany(40);
		bucket.advance(50);
		expect(bucket.takeMany(2)).toEqual(['accept', 'rate-limited']);
		bucket.advance(1_000);
		expect(bucket.takeMany(21)).toEqual([...Array(20).fill('accept'), 'rate-limited']);
		bucket.advance(60_000);
		expect(bucket.takeMany(41)).toEqual([...Array(40).fill('accept'), 'rate-limited']);
	});

	it('closes on the 21st refused message', () => {
		const bucket = bucketAt();
		bucket.takeMany(40);
		expect(bucket.takeMany(20)).toEqual(Array(20).fill('rate-limited'));
		expect(bucket.take()).toBe('close');
	});

	it('counts refusals over the socket’s whole life: a refill forgives none', () => {
		const bucket = bucketAt();
		bucket.takeMany(40);
		expect(bucket.takeMany(19)).toEqual(Array(19).fill('rate-limited'));
		bucket.advance(1_000);
		bucket.takeMany(20);
		expect(bucket.takeMany(2)).toEqual(['rate-limited', 'close']);
	});
});
