import type { Redis } from 'ioredis';

/** A token bucket: `capacity` attempts at once, refilled at `refillPerSecond`. */
export interface BucketPolicy {
	capacity: number;
	refillPerSecond: number;
}

export interface RateDecision {
	allowed: boolean;
	/** Whole seconds until one token is back (0 when allowed). */
	retryAfterSeconds: number;
}

export interface RateLimiter {
	consume(key: string, policy: BucketPolicy): Promise<RateDecision>;
	/** Forgets a key, e.g. an account's failures after it signs in. */
	reset(key: string): Promise<void>;
}

function decide(tokens: number, policy: BucketPolicy): RateDecision {
	if (tokens >= 1) return { allowed: true, retryAfterSeconds: 0 };
	return {
		allowed: false,
		retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / policy.refillPerSecond))
	};
}

export function createMemoryRateLimiter(now: () => number = Date.now): RateLimiter {
	const buckets = new Map<string, { tokens: number; at: number }>();
	let lastSweep = now();
	return {
		async consume(key, policy) {
			const at = now();
			if (at - lastSweep > 60_000) {
				// Drop buckets that have refilled completely: they carry no information.
				for (const [k, bucket] of buckets) if (bucket.tokens >= policy.capacity) buckets.delete(k);
				lastSweep = at;
			}
			const bucket = buckets.get(key) ?? { tokens: policy.capacity, at };
			const tokens = Math.min(
				policy.capacity,
				bucket.tokens + ((at - bucket.at) / 1000) * policy.refillPerSecond
			);
			const decision = decide(tokens, policy);
			buckets.set(key, { tokens: decision.allowed ? tokens - 1 : tokens, at });
			return decision;
		},
		async reset(key) {
			buckets.delete(key);
		}
	};
}

// Refill, take one token if there is one, and store — atomically, so replicas share one bucket.
const consumeScript = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) / 1000 * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
`;

export function createRedisRateLimiter(redis: Redis, now: () => number = Date.now): RateLimiter {
	const prefix = 'awe:rate:';
	return {
		async consume(key, policy) {
			const [allowed, tokens] = (await redis.eval(
				consumeScript,
				1,
				prefix + key,
				policy.capacity,
				policy.refillPerSecond,
				now()
			)) as [number, string];
			return allowed === 1
				? { allowed: true, retryAfterSeconds: 0 }
				: decide(Number(tokens), policy);
		},
		async reset(key) {
			await redis.del(prefix + key);
		}
	};
}
