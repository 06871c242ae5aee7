import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryRateLimiter, createRedisRateLimiter, type RateLimiter } from './rate-limit.ts';

const redisUrl = process.env.TEST_REDIS_URL;
const redis = redisUrl ? new Redis(redisUrl) : null;
afterAll(async () => {
	await redis?.quit();
});

const policy = { capacity: 3, refillPerSecond: 1 };

const limiters: [string, (now: () => number) => RateLimiter][] = [
	['in-process', (now) => createMemoryRateLimiter(now)]
];
if (redis) limiters.push(['redis', (now) => createRedisRateLimiter(redis, now)]);

describe.each(limiters)('token bucket (%s)', (_name, create) => {
	it('allows a burst, refuses with Retry-After, and releases as tokens refill', async () => {
		let now = 1_000_000;
		const limiter = create(() => now);
		const key = `test:${randomUUID()}`;
		for (let i = 0; i < 3; i++) expect((await limiter.consume(key, policy)).allowed).toBe(true);
		expect(await limiter.consume(key, policy)).toEqual({ allowed: false, retryAfterSeconds: 1 });
		now += 1_000;
		expect((await limiter.consume(key, policy)).allowed).toBe(true);
		expect((await limiter.consume(key, policy)).allowed).toBe(false);
	});

	it('keeps keys apart and forgets a key on reset', async () => {
		const limiter = create(() => 5_000_000);
		const [a, b] = [`test:${randomUUID()}`, `test:${randomUUID()}`];
		for (let i = 0; i < 3; i++) await limiter.consume(a, policy);
		expect((await limiter.consume(a, policy)).allowed).toBe(false);
		expect((await limiter.consume(b, policy)).allowed).toBe(true);
		await limiter.reset(a);
		expect((await limiter.consume(a, policy)).allowed).toBe(true);
	});
});
