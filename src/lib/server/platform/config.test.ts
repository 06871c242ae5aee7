import { describe, expect, it } from 'vitest';
import { ConfigError, isEmbedded, loadConfig } from './config.ts';

const secret = 'k'.repeat(48);

function problemOf(env: Record<string, string>): string {
	try {
		loadConfig(env);
	} catch (error) {
		expect(error).toBeInstanceOf(ConfigError);
		return (error as Error).message;
	}
	throw new Error('expected the configuration to be rejected');
}

describe('loadConfig', () => {
	it('runs embedded with no environment at all', () => {
		const config = loadConfig({});
		expect(config).toMatchObject({
			PORT: 3000,
			HOST: '0.0.0.0',
			DATA_DIR: './data',
			LOG_LEVEL: 'info'
		});
		expect(config.DATABASE_URL).toBeUndefined();
		expect(isEmbedded(config)).toBe(true);
	});

	it('accepts a PostgreSQL and Redis deployment', () => {
		const config = loadConfig({
			DATABASE_URL: 'postgresql://awe:pw@db:5432/awe',
			REDIS_URL: 'redis://cache:6379',
			AWE_SECRET_KEY: secret,
			PORT: '8080'
		});
		expect(config.PORT).toBe(8080);
		expect(isEmbedded(config)).toBe(false);
	});

	it('treats empty variables as unset', () => {
		expect(loadConfig({ DATABASE_URL: '', REDIS_URL: '' }).DATABASE_URL).toBeUndefined();
	});

	it.each([
		[{ DATABASE_URL: 'not a url' }, 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
		[
			{ DATABASE_URL: 'mysql://db/awe', AWE_SECRET_KEY: secret },
			'DATABASE_URL must be a postgres://'
		],
		[{ REDIS_URL: 'http://cache' }, 'REDIS_URL must be a redis:// or rediss:// URL'],
		[{ PORT: 'eighty' }, 'PORT must be a port number'],
		[{ PORT: '70000' }, 'PORT must be between 1 and 65535'],
		[{ PORT: '80.5' }, 'PORT must be a whole number'],
		[{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
		[{ ORIGIN: 'ftp://example.com' }, 'ORIGIN must be a http:// or https:// URL'],
		[{ AWE_SECRET_KEY: 'short' }, 'AWE_SECRET_KEY must be at least 32 characters long'],
		[{ SHUTDOWN_TIMEOUT: '-1' }, 'SHUTDOWN_TIMEOUT must be a positive number of seconds'],
		[{ DATABASE_URL: 'postgres://db/awe' }, 'AWE_SECRET_KEY is required when DATABASE_URL is set']
	])('rejects %o with a message naming the variable', (env, expected) => {
		const message = problemOf(env);
		expect(message).toContain(expected);
		expect(message).not.toContain('\n');
	});

	it('reads the outbound HTTP allow list and explains a bad entry', () => {
		expect(loadConfig({}).AWE_HTTP_ALLOW).toEqual([]);
		expect(
			loadConfig({ AWE_HTTP_ALLOW: '127.0.0.1:11434, localhost:8080' }).AWE_HTTP_ALLOW
		).toEqual([
			{ host: '127.0.0.1', port: 11434 },
			{ host: 'localhost', port: 8080 }
		]);
		expect(problemOf({ AWE_HTTP_ALLOW: 'http://127.0.0.1:11434' })).toMatch(
			/^Invalid configuration: AWE_HTTP_ALLOW entry "http:\/\/127.0.0.1:11434" must be host:port/
		);
	});

	it('lists every problem in one line and never echoes a value', () => {
		const message = problemOf({ DATABASE_URL: 'mysql://root:hunter2@db/awe', PORT: '0' });
		expect(message).toMatch(
			/^Invalid configuration: .*PORT.*DATABASE_URL|^Invalid configuration: .*DATABASE_URL.*PORT/
		);
		expect(message).not.toContain('hunter2');
	});
});
