import type { RequestEvent } from '@sveltejs/kit';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/logger.ts';
import { heldRuntime, holdRuntime } from '../runtime-holder.js';
import type { Runtime } from '../runtime.ts';
import { requestLog } from './request-log.ts';

const lines: string[] = [];
const previous = heldRuntime();

beforeAll(() => {
	const stream = new Writable({
		write(chunk, _encoding, done) {
			lines.push(String(chunk));
			done();
		}
	});
	holdRuntime({
		logger: createLogger({ LOG_LEVEL: 'info', NODE_ENV: 'test' }, stream)
	} as Runtime);
});
afterAll(() => {
	if (previous) holdRuntime(previous);
});

async function run(
	url: string,
	headers: Record<string, string> = {},
	routeId: string | null = null
) {
	const event = {
		request: new Request(url, { headers }),
		url: new URL(url),
		route: { id: routeId },
		locals: {}
	} as RequestEvent;
	const response = await requestLog({ event, resolve: async () => new Response('ok') });
	return { event, response };
}

describe('requestLog', () => {
	it('honours a sane incoming X-Request-Id and echoes it', async () => {
		const { event, response } = await run('http://awe.test/', { 'x-request-id': 'trace-42.a:b' });
		expect(event.locals.requestId).toBe('trace-42.a:b');
		expect(response.headers.get('x-request-id')).toBe('trace-42.a:b');
	});

	it.each(['has spaces', 'x'.repeat(129), '<script>', 'a/../b', '"quoted"'])(
		'replaces an unsafe incoming id (%s) with a new one',
		async (incoming) => {
			const { response } = await run('http://awe.test/', { 'x-request-id': incoming });
			expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
		}
	);

	it('logs the path without the query string', async () => {
		lines.length = 0;
		await run('http://awe.test/hooks/abc?token=supersecret');
		const entry = JSON.parse(lines.at(-1) ?? '{}');
		expect(entry).toMatchObject({ path: '/hooks/abc', status: 200, method: 'GET' });
		expect(lines.join('')).not.toContain('supersecret');
	});

	it('logs routes whose path carries a secret by route id only', async () => {
		lines.length = 0;
		await run('http://awe.test/invite/secretinvitetoken', {}, '/invite/[token]');
		expect(JSON.parse(lines.at(-1) ?? '{}')).toMatchObject({ path: '/invite/[token]' });
		expect(lines.join('')).not.toContain('secretinvitetoken');
	});
});
