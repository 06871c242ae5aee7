// Production entry: the SvelteKit app (adapter-node handler) on node:http, with graceful shutdown.
import http from 'node:http';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { heldRuntime } from './src/lib/server/runtime-holder.js';

/**
 * An HTTP server that, on shutdown, stops accepting connections, lets in-flight requests finish
 * (up to `shutdownTimeoutMs`, then cuts the rest), and only then calls `onClosed`.
 * @param {(req: http.IncomingMessage, res: http.ServerResponse) => void} handler
 * `beforeClose` runs first (the WebSocket server says goodbye: its sockets are not requests).
 * @param {{ shutdownTimeoutMs: number, onClosed: () => Promise<void>, beforeClose?: () => Promise<void> }} options
 */
export function createGracefulServer(handler, { shutdownTimeoutMs, onClosed, beforeClose }) {
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
		stopping ??= (beforeClose?.() ?? Promise.resolve()).then(
			() =>
				new Promise((resolve, reject) => {
					const cutoff = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
					server.close(() => {
						clearTimeout(cutoff);
						onClosed().then(resolve, reject);
					});
					server.closeIdleConnections();
				})
		);
		return stopping;
	}

	return { server, shutdown };
}

// Without ORIGIN, adapter-node would assume every request came over https (breaking the CSRF origin
// check on a plain-http laptop install). We tell it the real protocol of each connection instead,
// through a header we overwrite on every request so a client cannot forge it.
const connectionProtocolHeader = 'x-awe-connection-protocol';

/** @typedef {(req: http.IncomingMessage, res: http.ServerResponse) => void} RequestHandler */

/** @param {http.IncomingMessage} req */
function stampProtocol(req) {
	req.headers[connectionProtocolHeader] = /** @type {import('node:tls').TLSSocket} */ (req.socket)
		.encrypted
		? 'https'
		: 'http';
}

/** @param {RequestHandler} handler */
function withConnectionProtocol(handler) {
	return (/** @type {http.IncomingMessage} */ req, /** @type {http.ServerResponse} */ res) => {
		stampProtocol(req);
		handler(req, res);
	};
}

async function main() {
	const deriveProtocol = !process.env.ORIGIN && !process.env.PROTOCOL_HEADER;
	if (deriveProtocol) process.env.PROTOCOL_HEADER = connectionProtocolHeader;
	/** @type {RequestHandler} */
	let handler;
	/** @type {import('./src/lib/server/runtime.ts').Runtime} */
	let runtime;
	/** @type {import('./src/lib/server/realtime/server.ts').RealtimeServer} */
	let realtime;
	try {
		// Importing the handler runs hooks.server.ts `init`, which builds the runtime.
		// (A path in a variable keeps the type checker out of the generated bundle.)
		const builtHandler = './build/handler.js';
		({ handler } = await import(builtHandler));
		const started = heldRuntime();
		if (!started?.realtime) throw new Error('the runtime did not start with its web roles');
		runtime = started;
		realtime = started.realtime;
	} catch (error) {
		const message = error instanceof Error ? error.message : String(error);
		console.error(`AWE could not start: ${message.split('\n')[0]}`);
		process.exit(1);
	}
	const { config, logger } = runtime;
	const { server, shutdown } = createGracefulServer(
		deriveProtocol ? withConnectionProtocol(handler) : handler,
		{
			shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT * 1000,
			beforeClose: () => realtime.close(),
			onClosed: () => runtime.close()
		}
	);
	// WebSocket upgrades: the realtime server serves `/ws` and refuses any other path.
	server.on('upgrade', (req, socket, head) => {
		if (deriveProtocol) stampProtocol(req);
		realtime.handleUpgrade(req, socket, head);
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
