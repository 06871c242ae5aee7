import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture() {
	const lines: string[] = [];
	const stream = new Writable({
		write(chunk, _encoding, done) {
			lines.push(String(chunk));
			done();
		}
	});
	return { lines, stream };
}

describe('createLogger', () => {
	it('writes JSON lines with the service name', () => {
		const { lines, stream } = capture();
		createLogger({ LOG_LEVEL: 'info', NODE_ENV: 'production' }, stream).info(
			{ runId: 'r1' },
			'hello'
		);
		const entry = JSON.parse(lines[0] ?? '');
		expect(entry).toMatchObject({ service: 'awe', runId: 'r1', msg: 'hello', level: 30 });
	});

	it('never writes cookies, authorization headers, passwords or tokens', () => {
		const { lines, stream } = capture();
		const logger = createLogger({ LOG_LEVEL: 'info', NODE_ENV: 'production' }, stream);
		logger.info({
			password: 'pw-top-level',
			token: 'tok-top-level',
			body: { password: 'pw-nested', secret: 'shh-nested' },
			headers: { cookie: 'session=abc', authorization: 'Bearer awe_123', accept: 'text/html' },
			req: { headers: { cookie: 'session=def', 'set-cookie': 'x=1' } }
		});
		const output = lines.join('');
		for (const secret of [
			'pw-top-level',
			'tok-top-level',
			'pw-nested',
			'shh-nested',
			'session=abc',
			'awe_123',
			'session=def',
			'x=1'
		]) {
			expect(output).not.toContain(secret);
		}
		expect(output).toContain('text/html');
		expect(output).toContain('[redacted]');
	});

	it('honours the level', () => {
		const { lines, stream } = capture();
		const logger = createLogger({ LOG_LEVEL: 'warn', NODE_ENV: 'production' }, stream);
		logger.info('dropped');
		logger.warn('kept');
		expect(lines).toHaveLength(1);
	});
});

describe('log lines stay small', () => {
	it('caps long strings and long arrays, and drops the parameters of a failed statement', () => {
		const { lines, stream } = capture();
		const logger = createLogger({ LOG_LEVEL: 'info', NODE_ENV: 'production' }, stream);
		const payload = 'x'.repeat(4 * 1024 * 1024);
		const failed = Object.assign(
			new Error(`Failed query: update run_steps set output = $1::jsonb\nparams: ${payload}`),
			{ query: 'update run_steps set output = $1::jsonb', params: [payload] }
		);
		failed.name = 'DrizzleQueryError';
		logger.error({ err: failed, body: payload, items: Array.from({ length: 500 }, (_, i) => i) });
		const line = lines[0] ?? '';
		expect(line.length).toBeLessThan(20_000);
		const entry = JSON.parse(line);
		expect(entry.err.message).toBe('Failed query: update run_steps set output = $1::jsonb');
		expect(entry.err.params).toBeUndefined();
		expect(entry.err.query).toBeUndefined();
		expect(entry.err.stack).not.toContain('xxxx');
		expect(entry.body).toMatch(/^x{2000}… \[4192304 more characters\]$/);
		expect(entry.items).toHaveLength(51);
	});
});
