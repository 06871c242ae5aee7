import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createGracefulServer } from '../../server.js';

function request(port: number, path: string, agent?: http.Agent) {
	return new Promise<{ status: number; body: string }>((resolve, reject) => {
		http
			.get({ port, path, agent }, (response) => {
				let body = '';
				response.on('data', (chunk) => (body += chunk));
				response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
			})
			.on('error', reject);
	});
}

function start(handler: http.RequestListener, shutdownTimeoutMs = 5_000) {
	const events: string[] = [];
	const graceful = createGracefulServer(handler, {
		shutdownTimeoutMs,
		onClosed: async () => {
			events.push('closed');
		}
	});
	return new Promise<{ port: number; events: string[]; shutdown: () => Promise<void> }>(
		(resolve) => {
			graceful.server.listen(0, '127.0.0.1', () => {
				resolve({
					port: (graceful.server.address() as AddressInfo).port,
					events,
					shutdown: graceful.shutdown
				});
			});
		}
	);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('graceful shutdown', () => {
	it('finishes an in-flight request, refuses new ones, then closes the runtime', async () => {
		const server = await start((req, res) => {
			res.on('finish', () => server.events.push(`finished ${req.url}`));
			setTimeout(() => res.end(`done ${req.url}`), 400);
		});
		const keepAlive = new http.Agent({ keepAlive: true });
		const inFlight = request(server.port, '/slow', keepAlive);
		await sleep(100);
		const stopped = server.shutdown();
		await sleep(20);
		await expect(request(server.port, '/late')).rejects.toThrow(/ECONNREFUSED/);
		expect(await inFlight).toEqual({ status: 200, body: 'done /slow' });
		await stopped;
		expect(server.events).toEqual(['finished /slow', 'closed']);
		keepAlive.destroy();
	});

	it('cuts requests that outlive the shutdown timeout and still closes', async () => {
		const server = await start(() => {}, 200);
		const hanging = request(server.port, '/forever');
		await sleep(50);
		await server.shutdown();
		await expect(hanging).rejects.toThrow(/socket hang up|ECONNRESET/);
		expect(server.events).toEqual(['closed']);
	});

	it('does not wait for idle keep-alive connections', async () => {
		const server = await start((_req, res) => res.end('ok'), 10_000);
		const keepAlive = new http.Agent({ keepAlive: true });
		await request(server.port, '/', keepAlive);
		const started = Date.now();
		await server.shutdown();
		expect(Date.now() - started).toBeLessThan(5_000);
		expect(server.events).toEqual(['closed']);
		keepAlive.destroy();
	});
});
