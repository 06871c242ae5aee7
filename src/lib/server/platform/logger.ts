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

export function createLogger(
	config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>,
	destination?: DestinationStream
): Logger {
	const options = {
		level: config.LOG_LEVEL,
		base: { service: 'awe' },
		redact: { paths: redactedPaths, censor: '[redacted]' }
	};
	if (destination) return pino(options, destination);
	if (config.NODE_ENV === 'development') {
		// Resolved from here: pino's own lookup cannot see through Vite's dev module runner.
		const target = createRequire(import.meta.url).resolve('pino-pretty');
		return pino({ ...options, transport: { target, options: { colorize: true } } });
	}
	return pino(options);
}
