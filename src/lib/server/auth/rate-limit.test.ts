import { randomUUID } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock, limiterOnClock } from '../../../../tests/helpers/clock.ts';
import {
	createMemoryRateLimiter,
	createRedisRateLimiter,
	dynamicPolicyCacheSize,
	type RateLimiter,
	type RatePolicy
} from './rate-limit.ts';

const redisUrl = process.env.TEST_REDIS_URL;

const policy: RatePolicy = { name: 'test-three-a-minute', points: 3, duration: 60 };
const uniqueKey = () => `test:${randomUUID()}`;

// Redis limiters opened by a test, closed after it even when it fails.
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
	await Promise.all(opened.splice(0).map((limiter) => limiter.close()));
});
async function redisLimiter(url: string, errors: unknown[] = []) {
	const limiter = await createRedisRateLimiter(url, (error) => errors.push(error));
	opened.push(limiter);
	return limiter;
}

async function consumeTimes(limiter: RateLimiter, key: string, ratePolicy: RatePolicy, n: number) {
	const decisions = [];
	for (let i = 0; i < n; i++) decisions.push((await limiter.consume(key, ratePolicy)).allowed);
	return decisions;
}

describe('the memory limiter on a test clock', () => {
	it('allows the points of a window, refuses until it ends, then counts afresh', async () => {
		const clock = createClock();
		const limiter = limiterOnClock(createMemoryRateLimiter(), clock);
		const key = uniqueKey();
		expect(await consumeTimes(limiter, key, policy, 3)).toEqual([true, true, true]);
		expect(await limiter.consume(key, policy)).toEqual({ allowed: false, retryAfterSeconds: 60 });
		clock.advance(59_000);
		// Refusals do not stretch the window.
		for (let i = 0; i < 5; i++)
			expect(await limiter.consume(key, policy)).toEqual({ allowed: false, retryAfterSeconds: 1 });
		clock.advance(1_000);
		expect(await consumeTimes(limiter, key, policy, 4)).toEqual([true, true, true, false]);
	});

	it('keeps each policy’s count: using one policy forgives nothing under another', async () => {
		const clock = createClock();
		const limiter = limiterOnClock(createMemoryRateLimiter(), clock);
		const slow: RatePolicy = { name: 'test-ten-per-ten-minutes', points: 10, duration: 600 };
		const other: RatePolicy = { name: 'test-five-per-150-s', points: 5, duration: 150 };
		const key = uniqueKey();
		expect(await consumeTimes(limiter, key, slow, 4)).toEqual(Array(4).fill(true));
		clock.advance(61_000);
		// The same key under another policy has a count of its own.
		expect(await consumeTimes(limiter, key, other, 6)).toEqual([...Array(5).fill(true), false]);
		expect(await consumeTimes(limiter, key, slow, 7)).toEqual([...Array(6).fill(true), false]);
	});

	it('refuses a policy name used with other numbers, and policies it cannot keep', async () => {
		const limiter = createMemoryRateLimiter();
		await limiter.consume('k', policy);
		await expect(limiter.consume('k', { ...policy, points: 4 })).rejects.toThrow(
			/Two rate policies are named "test-three-a-minute"/
		);
		for (const bad of [
			{ name: 'has:colon', points: 1, duration: 60 },
			{ name: 'fractional-seconds', points: 1, duration: 1.5 },
			{ name: 'no-points', points: 0, duration: 60 }
		])
			await expect(limiter.consume('k', bad)).rejects.toThrow(/Rate policy/);
	});
});

describe('dynamic policies and peeking', () => {
	const perSecond = (points: number): RatePolicy => ({
		name: `test-dynamic-${points}`,
		points,
		duration: 1,
		dynamic: true
	});

	it('keeps a bounded number of dynamic limiters, and the static ones whatever the dynamic use', async () => {
		const clock = createClock();
		const limiter = limiterOnClock(createMemoryRateLimiter(), clock);
		const key = uniqueKey();
		expect(await consumeTimes(limiter, key, policy, 3)).toEqual([true, true, true]);
		expect(await consumeTimes(limiter, key, perSecond(1), 2)).toEqual([true, false]);
		// Past the cache's size the least recently used dynamic limiter goes, and its count with it.
		for (let points = 2; points <= dynamicPolicyCacheSize + 1; points++)
			await limiter.consume(key, perSecond(points));
		expect(await consumeTimes(limiter, key, perSecond(1), 2)).toEqual([true, false]);
		// The static policy's count survived all of that.
		expect((await limiter.consume(key, policy)).allowed).toBe(false);
	});

	it('refuses a dynamic policy with a long window', async () => {
		const limiter = createMemoryRateLimiter();
		await expect(
			limiter.consume('k', { name: 'test-dynamic-long', points: 1, duration: 61, dynamic: true })
		).rejects.toThrow(/at most 60 s/);
	});

	it('peeks without counting: allowed until the points are used, then until the window ends', async () => {
		const clock = createClock();
		const limiter = limiterOnClock(createMemoryRateLimiter(), clock);
		const key = uniqueKey();
		for (let i = 0; i < 5; i++) expect((await limiter.peek(key, policy)).allowed).toBe(true);
		expect(await consumeTimes(limiter, key, policy, 2)).toEqual([true, true]);
		expect((await limiter.peek(key, policy)).allowed).toBe(true);
		await limiter.consume(key, policy);
		expect(await limiter.peek(key, policy)).toEqual({ allowed: false, retryAfterSeconds: 60 });
		clock.advance(60_000);
		expect((await limiter.peek(key, policy)).allowed).toBe(true);
	});
});

const backends: [string, () => Promise<RateLimiter>][] = [
	['memory', async () => createMemoryRateLimiter()]
];
if (redisUrl) backends.push(['redis', () => redisLimiter(redisUrl)]);

describe.each(backends)('the %s limiter', (_name, create) => {
	it('keeps keys and policies apart, and forgets a key on reset', async () => {
		const limiter = await create();
		const other: RatePolicy = { ...policy, name: 'test-other-three-a-minute' };
		const [a, b] = [uniqueKey(), uniqueKey()];
		expect(await consumeTimes(limiter, a, policy, 4)).toEqual([true, true, true, false]);
		expect((await limiter.consume(b, policy)).allowed).toBe(true);
		expect((await limiter.consume(a, other)).allowed).toBe(true);
		await limiter.reset(a, policy);
		expect((await limiter.consume(a, policy)).allowed).toBe(true);
	});
});

describe.skipIf(!redisUrl)('the Redis limiter', () => {
	const url = redisUrl ?? '';

	it('shares counts between processes, each with its own limiter and connection', async () => {
		const [first, second] = [await redisLimiter(url), await redisLimiter(url)];
		const key = uniqueKey();
		expect(await consumeTimes(first, key, policy, 2)).toEqual([true, true]);
		expect(await consumeTimes(second, key, policy, 2)).toEqual([true, false]);
		const refused = await first.consume(key, policy);
		expect(refused.allowed).toBe(false);
		expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
		expect(refused.retryAfterSeconds).toBeLessThanOrEqual(policy.duration);
		await second.reset(key, policy);
		expect((await first.consume(key, policy)).allowed).toBe(true);
	});

	it('counts in memory while Redis does not answer, instead of keeping the request waiting', async () => {
		const proxy = await startProxy(new URL(url));
		try {
			const limiter = await redisLimiter(`redis://127.0.0.1:${proxy.port}`);
			const observer = await redisLimiter(url);
			const onePerMinute: RatePolicy = { name: 'test-one-a-minute', points: 1, duration: 60 };
			const counted = uniqueKey();
			expect((await limiter.consume(counted, onePerMinute)).allowed).toBe(true);
			expect((await observer.consume(counted, onePerMinute)).allowed).toBe(false);

			proxy.blackHole();
			// Each call gives up on Redis after the command timeout and asks the memory limiter.
			const key = uniqueKey();
			expect((await limiter.consume(key, onePerMinute)).allowed).toBe(true);
			expect((await limiter.consume(key, onePerMinute)).allowed).toBe(false);
			// Redis never saw those.
			expect((await observer.consume(key, onePerMinute)).allowed).toBe(true);
		} finally {
			await proxy.close();
		}
	});

	it('counts in memory at once when the connection is lost, and reports the errors', async () => {
		const proxy = await startProxy(new URL(url));
		const errors: unknown[] = [];
		try {
			const limiter = await redisLimiter(`redis://127.0.0.1:${proxy.port}`, errors);
			const key = uniqueKey();
			expect(await consumeTimes(limiter, key, policy, 1)).toEqual([true]);
			await proxy.close();
			// Counted afresh in memory: the one counted in Redis is out of reach.
			expect(await consumeTimes(limiter, key, policy, 4)).toEqual([true, true, true, false]);
			await limiter.reset(key, policy);
			expect((await limiter.consume(key, policy)).allowed).toBe(true);
			expect(errors.length).toBeGreaterThan(0);
		} finally {
			await proxy.close();
		}
	});
});

describe('the Redis limiter with Redis unreachable at start', () => {
	it('fails to open, as the event bus does', async () => {
		const url = `redis://127.0.0.1:${await closedPort()}`;
		await expect(createRedisRateLimiter(url, () => {})).rejects.toBeInstanceOf(Error);
	});
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const address = server.address();
	await new Promise((resolve) => server.close(resolve));
	if (address === null || typeof address === 'string') throw new Error('no port');
	return address.port;
}

/** A TCP relay to Redis that can turn into a black hole: connected, but nothing gets through. */
async function startProxy(target: URL) {
	const sockets = new Set<Socket>();
	let open = true;
	const server = createServer((client) => {
		const upstream = connect(Number(target.port || 6379), target.hostname);
		for (const [from, to] of [
			[client, upstream],
			[upstream, client]
		] as const) {
			sockets.add(from);
			from.on('data', (chunk) => open && to.write(chunk));
			from.on('error', () => to.destroy());
			from.on('close', () => to.destroy());
		}
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const address = server.address();
	if (address === null || typeof address === 'string') throw new Error('no port');
	let closing: Promise<unknown> | undefined;
	return {
		port: address.port,
		blackHole() {
			open = false;
		},
		/** Cuts every connection and stops listening: Redis is gone. */
		close() {
			for (const socket of sockets) socket.destroy();
			closing ??= new Promise((resolve) => server.close(resolve));
			return closing;
		}
	};
}
