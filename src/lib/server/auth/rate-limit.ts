import { Redis } from 'ioredis';
import {
	RateLimiterMemory,
	RateLimiterRedis,
	RateLimiterRes,
	type RateLimiterAbstract
} from 'rate-limiter-flexible';

/**
 * `points` attempts per key in a window of `duration` seconds that opens at the key's first attempt
 * (rate-limiter-flexible's fixed window). A token bucket of capacity C refilled at r per second maps
 * to points = C, duration = C / r: the same burst, and the same sustained rate. docs/rate-limits.md
 * lists the policies.
 */
export interface RatePolicy {
	/** Prefixes the policy's keys (lower-case letters, digits, dashes), so policies never share a count. */
	name: string;
	points: number;
	/** Whole seconds: Redis keeps time in seconds. */
	duration: number;
	/**
	 * Numbers set per key by configuration (a webhook's own limit): the name says the numbers, and at
	 * most `dynamicPolicyCacheSize` such limiters are kept, the least recently used dropped first.
	 * Dropping one forgets its counts, so only short windows may be dynamic.
	 */
	dynamic?: true;
}

export interface RateDecision {
	allowed: boolean;
	/** Whole seconds until the key's window ends (0 when allowed). */
	retryAfterSeconds: number;
}

export interface RateLimiter {
	consume(key: string, policy: RatePolicy): Promise<RateDecision>;
	/** Whether the key has used up its allowance, without counting an attempt. */
	peek(key: string, policy: RatePolicy): Promise<RateDecision>;
	/** Forgets a key's count under a policy, e.g. an account's failures after it signs in. */
	reset(key: string, policy: RatePolicy): Promise<void>;
}

const keyPrefix = 'awe:limit:';
const policyName = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** How long a limiter call waits for Redis before it answers from memory instead. */
const redisCommandTimeoutMs = 1_000;

/** How many dynamic policies (distinct per-webhook numbers) keep a limiter at once. */
export const dynamicPolicyCacheSize = 64;
/** The longest window a dynamic policy may have: dropping its limiter forgets at most this much. */
const dynamicPolicyMaxDuration = 60;

/** One library limiter per policy, built on first use; a name reused with other numbers is a bug. */
function perPolicy(build: (options: LimiterOptions) => RateLimiterAbstract): RateLimiter {
	const limiters = new Map<string, { policy: RatePolicy; limiter: RateLimiterAbstract }>();
	// A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
	const dynamicLimiters = new Map<string, { policy: RatePolicy; limiter: RateLimiterAbstract }>();
	function limiterFor(policy: RatePolicy): RateLimiterAbstract {
		const cache = policy.dynamic ? dynamicLimiters : limiters;
		const known = cache.get(policy.name);
		if (known) {
			if (known.policy.points !== policy.points || known.policy.duration !== policy.duration)
				throw new Error(`Two rate policies are named "${policy.name}".`);
			if (policy.dynamic) {
				cache.delete(policy.name);
				cache.set(policy.name, known);
			}
			return known.limiter;
		}
		if (policy.dynamic && policy.duration > dynamicPolicyMaxDuration)
			throw new Error(`Dynamic rate policy "${policy.name}" needs a window of at most 60 s.`);
		if (!policyName.test(policy.name))
			throw new Error(`Rate policy name "${policy.name}" is not lower-case words and dashes.`);
		if (!Number.isInteger(policy.points) || policy.points < 1)
			throw new Error(`Rate policy "${policy.name}" needs a whole number of points, at least 1.`);
		if (!Number.isInteger(policy.duration) || policy.duration < 1)
			throw new Error(
				`Rate policy "${policy.name}" needs a duration of whole seconds, at least 1.`
			);
		const limiter = build({
			points: policy.points,
			duration: policy.duration,
			keyPrefix: keyPrefix + policy.name
		});
		cache.set(policy.name, { policy, limiter });
		if (cache.size > dynamicPolicyCacheSize && policy.dynamic) {
			const oldest = cache.keys().next().value;
			if (oldest !== undefined) cache.delete(oldest);
		}
		return limiter;
	}
	return {
		async consume(key, policy) {
			try {
				await limiterFor(policy).consume(key);
				return { allowed: true, retryAfterSeconds: 0 };
			} catch (rejection) {
				// The library rejects with its result when the points are used up, with an Error otherwise.
				if (!(rejection instanceof RateLimiterRes)) throw rejection;
				return {
					allowed: false,
					retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))
				};
			}
		},
		async peek(key, policy) {
			const state = await limiterFor(policy).get(key);
			// A window past its end counts as none: the memory store drops it on a timer, not on read.
			if (state === null || state.consumedPoints < policy.points || state.msBeforeNext <= 0)
				return { allowed: true, retryAfterSeconds: 0 };
			return {
				allowed: false,
				retryAfterSeconds: Math.max(1, Math.ceil(state.msBeforeNext / 1000))
			};
		},
		async reset(key, policy) {
			await limiterFor(policy).delete(key);
		}
	};
}

type LimiterOptions = { points: number; duration: number; keyPrefix: string };

/** Counts in this process only: for a single web process, and for tests. */
export function createMemoryRateLimiter(): RateLimiter {
	return perPolicy((options) => new RateLimiterMemory(options));
}

/**
 * Counts in Redis, so every web process shares one count per key; resolves once connected. When Redis
 * goes away later, or answers slower than `redisCommandTimeoutMs`, each process counts in memory
 * instead (rate-limiter-flexible's insurance limiter, same policy): requests are then limited per
 * process rather than kept waiting.
 */
export async function createRedisRateLimiter(
	url: string,
	onError: (error: unknown) => void
): Promise<RateLimiter & { close(): Promise<void> }> {
	const redis = new Redis(url, {
		maxRetriesPerRequest: 1,
		connectTimeout: 5_000,
		commandTimeout: redisCommandTimeoutMs,
		lazyConnect: true
	});
	redis.on('error', onError);
	try {
		await redis.connect();
	} catch (error) {
		redis.disconnect();
		throw error;
	}
	const limiter = perPolicy(
		(options) =>
			new RateLimiterRedis({
				...options,
				storeClient: redis,
				// Not connected: straight to the insurance limiter instead of the offline queue.
				rejectIfRedisNotReady: true,
				insuranceLimiter: new RateLimiterMemory(options)
			})
	);
	return {
		...limiter,
		async close() {
			await redis.quit().catch(() => redis.disconnect());
		}
	};
}
