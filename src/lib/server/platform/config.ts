import { z } from 'zod';
import { HttpAllowListError, parseHttpAllowList } from './http-allow.ts';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function urlWithProtocols(protocols: string[], description: string) {
	return z
		.string()
		.trim()
		.refine((value) => {
			if (!URL.canParse(value)) return false;
			const url = new URL(value);
			return protocols.includes(url.protocol) && url.hostname !== '';
		}, `must be a ${description} URL`);
}

const optional = <T extends z.ZodType>(schema: T) =>
	z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const configSchema = z.object({
	NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
	HOST: z.string().trim().min(1).default('0.0.0.0'),
	PORT: z.coerce
		.number({ error: 'must be a port number' })
		.int('must be a whole number')
		.min(1, 'must be between 1 and 65535')
		.max(65535, 'must be between 1 and 65535')
		.default(3000),
	ORIGIN: optional(urlWithProtocols(['http:', 'https:'], 'http:// or https://')),
	DATA_DIR: z.string().trim().min(1).default('./data'),
	DATABASE_URL: optional(
		urlWithProtocols(['postgres:', 'postgresql:'], 'postgres:// or postgresql://')
	),
	REDIS_URL: optional(urlWithProtocols(['redis:', 'rediss:'], 'redis:// or rediss://')),
	AWE_SECRET_KEY: optional(z.string().min(32, 'must be at least 32 characters long')),
	LOG_LEVEL: z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).default('info'),
	BCRYPT_COST: z.coerce
		.number({ error: 'must be a number' })
		.int('must be a whole number')
		.min(10, 'must be at least 10')
		.max(16, 'must be at most 16')
		.default(12),
	/**
	 * Steps one worker executes at once (the web process's own worker, and `npm run worker`). Most
	 * steps wait on I/O (model requests take seconds, HTTP calls, timers); code runs in the sandbox
	 * pool, whose size CODE_RUNNERS limits on its own.
	 */
	WORKER_CONCURRENCY: z.coerce
		.number({ error: 'must be a number' })
		.int('must be a whole number')
		.min(1, 'must be at least 1')
		.max(256, 'must be at most 256')
		.default(32),
	/** How long a claimed step stays a worker's without a heartbeat before another may take it over. */
	WORKER_LEASE_SECONDS: z.coerce
		.number({ error: 'must be a number of seconds' })
		.min(1, 'must be at least 1 second')
		.max(3600, 'must be at most 3600 seconds')
		.default(30),
	/** Whether the web process executes runs too; by default only in embedded mode. */
	IN_PROCESS_WORKER: optional(
		z
			.enum(['true', 'false'], { error: 'must be true or false' })
			.transform((value) => value === 'true')
	),
	/** Sandbox processes for code nodes and custom tools, per process that executes steps. */
	CODE_RUNNERS: z.coerce
		.number({ error: 'must be a number' })
		.int('must be a whole number')
		.min(1, 'must be at least 1')
		.max(64, 'must be at most 64')
		.default(2),
	/** host:port entries outbound HTTP may reach although they are in blocked ranges (a local model server). */
	AWE_HTTP_ALLOW: z
		.string()
		.default('')
		.transform((value, ctx) => {
			try {
				return parseHttpAllowList(value);
			} catch (error) {
				if (!(error instanceof HttpAllowListError)) throw error;
				ctx.addIssue({ code: 'custom', message: error.message });
				return z.NEVER;
			}
		}),
	/** The realtime sidecar's port (`npm run realtime`); the web process serves /ws on PORT itself. */
	REALTIME_PORT: z.coerce
		.number({ error: 'must be a port number' })
		.int('must be a whole number')
		.min(1, 'must be between 1 and 65535')
		.max(65535, 'must be between 1 and 65535')
		.default(3001),
	SHUTDOWN_TIMEOUT: z.coerce
		.number({ error: 'must be a number of seconds' })
		.positive('must be a positive number of seconds')
		.default(30)
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
	override name = 'ConfigError';
}

/** Parses the environment once; a bad value throws a ConfigError whose message is one line. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
	const result = configSchema.safeParse(env);
	const problems = result.success
		? crossFieldProblems(result.data)
		: result.error.issues.map(
				(issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`
			);
	if (result.success && problems.length === 0) return result.data;
	// Values are never echoed: they may hold passwords (DATABASE_URL) or keys.
	throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
}

function crossFieldProblems(config: Config): string[] {
	// Every replica must encrypt and sign with the same key, so a shared database needs an explicit one.
	if (config.DATABASE_URL && !config.AWE_SECRET_KEY) {
		return [
			'AWE_SECRET_KEY is required when DATABASE_URL is set (generate one: openssl rand -base64 48)'
		];
	}
	return [];
}

/** Embedded mode: the database lives in the process (PGlite) and events stay in-process. */
export function isEmbedded(config: Config): boolean {
	return config.DATABASE_URL === undefined;
}
