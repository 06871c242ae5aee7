import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

/** Fields that must never reach a log line, wherever they appear in a logged object. */
const redactedPaths = [
	'password',
	'*.password',
	'token',
	'*.token',
	'secret',
	'*.secret',
	'headers.cookie',
	'headers.authorization',
	'headers["set-cookie"]',
	'*.headers.cookie',
	'*.headers.authorization',
	'*.headers["set-cookie"]'
];

// A log line stays small whatever is logged: a payload or a statement's parameters never reach it.
const maxStringLength = 2_000;
const maxArrayItems = 50;
const maxDepth = 8;

function capped(value: unknown, depth = 0): unknown {
	if (typeof value === 'string') {
		return value.length <= maxStringLength
			? value
			: `${value.slice(0, maxStringLength)}… [${value.length - maxStringLength} more characters]`;
	}
	if (value === null || typeof value !== 'object') return value;
	if (depth >= maxDepth) return '[nested too deeply to log]';
	if (Array.isArray(value)) {
		const items = value.slice(0, maxArrayItems).map((item) => capped(item, depth + 1));
		if (value.length > maxArrayItems) items.push(`[${value.length - maxArrayItems} more items]`);
		return items;
	}
	if (value instanceof Error) return serializeError(value, depth);
	// Anything with a JSON form of its own (dates, URLs) is logged as that.
	if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
	return Object.fromEntries(
		Object.entries(value).map(([key, item]) => [key, capped(item, depth + 1)])
	);
}

/**
 * pino's error serializer, minus what a failed statement carries: drizzle's error has the SQL and
 * every parameter in its message and in `query`/`params`; only the statement's first line is kept.
 */
function serializeError(error: Error, depth = 0): unknown {
	const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
	delete serialized.query;
	delete serialized.params;
	delete serialized.parameters;
	if (typeof serialized.message === 'string' && serialized.message.startsWith('Failed query: ')) {
		serialized.message = serialized.message.split('\n')[0]!.slice(0, 200);
		const stack = typeof serialized.stack === 'string' ? serialized.stack : '';
		const frames = stack.split('\n').filter((line) => /^\s+at /.test(line));
		serialized.stack = [`${error.name}: ${serialized.message}`, ...frames].join('\n');
	}
	return capped(serialized, depth + 1);
}

export function createLogger(
	config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>,
	destination?: DestinationStream
): Logger {
	const options = {
		level: config.LOG_LEVEL,
		base: { service: 'awe' },
		redact: { paths: redactedPaths, censor: '[redacted]' },
		// Every logged object and message is capped on the way in, before pino reads an error's
		// message for the line's `msg`.
		hooks: {
			logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void) {
				const [first, ...rest] = args;
				const object = first instanceof Error ? { err: first } : first;
				if (object === null || typeof object !== 'object') {
					method.apply(
						this,
						args.map((arg) => capped(arg))
					);
					return;
				}
				const safe = capped(object) as Record<string, unknown>;
				const errorMessage = (safe.err as { message?: unknown } | undefined)?.message;
				const message =
					rest.length === 0 && typeof errorMessage === 'string' ? [errorMessage] : rest;
				method.apply(this, [safe, ...message.map((arg) => capped(arg))]);
			}
		}
	};
	if (destination) return pino(options, destination);
	if (config.NODE_ENV === 'development') {
		// Resolved from here: pino's own lookup cannot see through Vite's dev module runner.
		const target = createRequire(import.meta.url).resolve('pino-pretty');
		return pino({ ...options, transport: { target, options: { colorize: true } } });
	}
	return pino(options);
}
