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
