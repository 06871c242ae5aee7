import type http from 'node:http';
import { createGracefulServer } from '../../../server.js';
import { openDatabase, pingDatabase } from './db/index.ts';
import { migrationStatus } from './db/migrate.ts';
import { loadConfig } from './platform/config.ts';
import { deriveKey } from './platform/crypto.ts';
import { createLogger } from './platform/logger.ts';
import { openEventBus } from './realtime/open-bus.ts';
import { createRealtimeServer } from './realtime/server.ts';

/**
 * The realtime sidecar (`npm run realtime`): only `/ws`, on REALTIME_PORT, for deployments that
 * scale WebSockets apart from the web processes. It reads run events from the shared PostgreSQL and
 * hears live ones on Redis, so both are required; it writes nothing but used tickets.
 */
export async function runRealtimeProcess(): Promise<void> {
	const config = loadConfig();
	const logger = createLogger(config).child({ process: 'realtime' });
	if (!config.DATABASE_URL || !config.REDIS_URL || !config.AWE_SECRET_KEY) {
		throw new Error(
			'The realtime sidecar needs DATABASE_URL, REDIS_URL and AWE_SECRET_KEY (the same as the web processes); in embedded mode the web process serves /ws itself.'
		);
	}
	const database = await openDatabase({ url: config.DATABASE_URL });
	const status = await migrationStatus(database).catch(async (error: unknown) => {
		await database.close();
		throw error;
	});
	if (!status.upToDate) {
		await database.close();
		throw new Error('The database is not migrated yet: start a web process first.');
	}
	const bus = await openEventBus(config.REDIS_URL, logger);
	const realtime = createRealtimeServer({
		services: {
			db: database.db,
			bus,
			now: () => new Date(),
			logger,
			keys: { realtime: deriveKey(config.AWE_SECRET_KEY, 'realtime-ticket') }
		},
		origin: config.ORIGIN,
		protocolHeader: process.env.PROTOCOL_HEADER || undefined,
		hostHeader: process.env.HOST_HEADER || undefined
	});

	const { server, shutdown } = createGracefulServer(
		(request: http.IncomingMessage, response: http.ServerResponse) => {
			const path = new URL(request.url ?? '/', 'http://localhost').pathname;
			if (path === '/healthz' || path === '/readyz') {
				const checks =
					path === '/healthz'
						? Promise.resolve()
						: Promise.all([pingDatabase(database), bus.ping()]);
				checks.then(
					() =>
						response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'),
					() =>
						response
							.writeHead(503, { 'content-type': 'application/json' })
							.end('{"status":"unavailable"}')
				);
				return;
			}
			response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
		},
		{
			shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT * 1000,
			beforeClose: () => realtime.close(),
			onClosed: async () => {
				await bus.close();
				await database.close();
			}
		}
	);
	server.on('upgrade', (request, socket, head) => realtime.handleUpgrade(request, socket, head));
	const stop = (signal: string) => {
		logger.info({ signal }, 'realtime stopping');
		shutdown().then(
			() => process.exit(0),
			(error: unknown) => {
				logger.error({ err: error }, 'shutdown failed');
				process.exit(1);
			}
		);
	};
	process.on('SIGTERM', () => stop('SIGTERM'));
	process.on('SIGINT', () => stop('SIGINT'));
	await new Promise<void>((resolve) => server.listen(config.REALTIME_PORT, config.HOST, resolve));
	logger.info({ host: config.HOST, port: config.REALTIME_PORT }, 'realtime sidecar listening');
}
