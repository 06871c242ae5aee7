import type http from 'node:http';
import { createGracefulServer } from '../../../../server.js';
import { checkReadiness, type Runtime } from '../runtime.ts';

/**
 * The realtime sidecar's HTTP server: only `/ws` (upgrades), `/healthz` and `/readyz`, on
 * REALTIME_PORT, for deployments that scale WebSockets apart from the web processes.
 */
export async function serveRealtimeSidecar(runtime: Runtime): Promise<() => Promise<void>> {
	const { config, logger, realtime } = runtime;
	if (!realtime) throw new Error('The sidecar needs the realtime role.');
	const { server, shutdown } = createGracefulServer(
		(request: http.IncomingMessage, response: http.ServerResponse) => {
			const path = new URL(request.url ?? '/', 'http://localhost').pathname;
			if (path !== '/healthz' && path !== '/readyz') {
				response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
				return;
			}
			const ready =
				path === '/healthz'
					? Promise.resolve(true)
					: checkReadiness(runtime).then((readiness) => readiness.ready);
			void ready.then((up) => {
				response
					.writeHead(up ? 200 : 503, { 'content-type': 'application/json' })
					.end(up ? '{"status":"ok"}' : '{"status":"unavailable"}');
			});
		},
		{
			shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT * 1000,
			beforeClose: () => realtime.close(),
			onClosed: async () => {}
		}
	);
	server.on('upgrade', (request, socket, head) => realtime.handleUpgrade(request, socket, head));
	await new Promise<void>((resolve) => server.listen(config.REALTIME_PORT, config.HOST, resolve));
	logger.info({ host: config.HOST, port: config.REALTIME_PORT }, 'realtime sidecar listening');
	return shutdown;
}
