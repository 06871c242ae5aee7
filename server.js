// Production entry: the SvelteKit app (adapter-node handler) on node:http, with graceful shutdown.
import http from 'node:http';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

/**
 * An HTTP server that, on shutdown, stops accepting connections, lets in-flight requests finish
 * (up to `shutdownTimeoutMs`, then cuts the rest), and only then calls `onClosed`.
 * @param {(req: http.IncomingMessage, res: http.ServerResponse) => void} handler
 * @param {{ shutdownTimeoutMs: number, onClosed: () => Promise<void> }} options
 */
export function createGracefulServer(handler, { shutdownTimeoutMs, onClosed }) {
	const server = http.createServer(handler);
	/** @type {Promise<void> | undefined} */
	let stopping;

	server.on('request', (/** @type {http.IncomingMessage} */ req) => {
		// Keep-alive connections would otherwise outlive the shutdown; drop each once it goes idle.
		req.on('close', () => {
			if (stopping) server.closeIdleConnections();
		});
	});

	/** @returns {Promise<void>} */
	function shutdown() {
		stopping ??= new Promise((resolve, reject) => {
			const cutoff = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
			server.close(() => {
				clearTimeout(cutoff);
				onClosed().then(resolve, reject);
			});
			server.closeIdleConnections();
		});
		return stopping;
	}

	return { server, shutdown };
}

async function main() {
	let runtime;
	/** @type {import('./build/handler.js')['handler']} */
	let handler;
	try {
		// Importing the handler runs hooks.server.ts `init`: config, database, migrations, bus.
		({ handler } = await import('./build/handler.js'));
		runtime = /** @type {import('./src/lib/server/runtime.ts').Runtime} */ (
			/** @type {Record<symbol, unknown>} */ (globalThis)[Symbol.for('awe.runtime')]
		);
	} catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		console.error(`AWE could not start: ${message.split('\n')[0]}`);
		process.exit(1);
	}
	const { config, logger } = runtime;
	const { server, shutdown } = createGracefulServer(handler, {
		shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT * 1000,
		onClosed: () => runtime.close()
	});

	/** @param {NodeJS.Signals} signal */
	const onSignal = (signal) => {
		logger.info({ signal }, 'shutting down');
		shutdown().then(
			() => process.exit(0),
			(/** @type {unknown} */ error) => {
				logger.error({ err: error }, 'shutdown failed');
				process.exit(1);
			}
		);
	};
	process.on('SIGTERM', onSignal);
	process.on('SIGINT', onSignal);

	server.listen(config.PORT, config.HOST, () => {
		logger.info({ host: config.HOST, port: config.PORT }, 'listening');
	});
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	await main();
}
