// Child process of bench/realtime.ts: the server side, alone in its process so its memory can be
// measured. Serves `createRealtimeServer` on the Redis bus (the production path) and, on a second
// port, the baseline: a bare `ws` server that broadcasts whatever frames the parent hands it.
// Env: DATABASE_URL, REDIS_URL. Started with --expose-gc so memory can be sampled after a GC.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { openDatabase } from '../../src/lib/server/db/index.ts';
import { deriveKey } from '../../src/lib/server/platform/crypto.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { createRedisBus } from '../../src/lib/server/bus/redis-bus.ts';
import { createRealtimeServer, realtimePath } from '../../src/lib/server/realtime/server.ts';
import { notify, serve, type MemorySample, type ServerCommands } from './ipc.ts';

const databaseUrl = process.env.DATABASE_URL ?? '';
const database = await openDatabase({ url: databaseUrl, maxConnections: 8 });
const bus = await createRedisBus(process.env.REDIS_URL ?? '', (error, channel) =>
	console.error('bus handler failed', channel, error)
);
const realtime = createRealtimeServer({
	services: {
		db: database.db,
		bus,
		now: () => new Date(),
		keys: { realtime: deriveKey('bench-secret-key-0123456789abcdefghij', 'realtime-ticket') },
		logger: createLogger({ LOG_LEVEL: 'warn', NODE_ENV: 'production' })
	},
	// All subscribers are one bench user; the per-user cap protects against one user, not fan-out.
	limits: { maxConnectionsPerUser: 10_000 }
});

// The connection opened with `?bench=slow`, watched from outside the server: the size of its send
// queue, and the close frame the server writes to it (0x88, then the 2-byte code).
let slowSocket: Duplex | null = null;
let slowClosedWith: number | null = null;
function watchSlow(request: IncomingMessage, socket: Duplex): void {
	if (!request.url?.includes('bench=slow')) return;
	slowSocket = socket;
	slowClosedWith = null;
	const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
	let closeHeader = false;
	socket.write = ((...args: unknown[]) => {
		const chunk = args[0];
		if (Buffer.isBuffer(chunk)) {
			if (closeHeader && chunk.length >= 2) {
				slowClosedWith = chunk.readUInt16BE(0);
				notify('slowClosed', slowClosedWith);
			}
			closeHeader = chunk.length <= 4 && chunk[0] === 0x88;
		}
		return write(...args);
	}) as Duplex['write'];
}

const http = createServer((_request, response) => response.writeHead(404).end());
http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
	if (!request.url?.startsWith(realtimePath)) return socket.destroy();
	watchSlow(request, socket);
	realtime.handleUpgrade(request, socket, head);
});

const rawHttp = createServer((_request, response) => response.writeHead(404).end());
const raw = new WebSocketServer({ server: rawHttp, perMessageDeflate: false });
const rawClients = new Map<WebSocket, Duplex>();
raw.on('connection', (ws, request) => {
	watchSlow(request, request.socket);
	rawClients.set(ws, request.socket);
	ws.on('close', () => rawClients.delete(ws));
	ws.on('error', () => {});
});

const listen = (server: typeof http) =>
	new Promise<number>((resolve) =>
		server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
	);
const [port, rawPort] = await Promise.all([listen(http), listen(rawHttp)]);

const gc = (globalThis as { gc?: () => void }).gc;
const memory = (): MemorySample => {
	const { rss, heapUsed, external } = process.memoryUsage();
	return { rss, heapUsed, external };
};
let watcher: NodeJS.Timeout | null = null;
let peak = memory();
let slowQueuePeakBytes = 0;

serve<ServerCommands>({
	broadcast({ frames }) {
		// One commit's frames leave each socket in one write, as the realtime server batches them.
		for (const socket of rawClients.values()) socket.cork();
		for (const frame of frames) {
			const buffer = Buffer.from(frame);
			for (const ws of rawClients.keys()) ws.send(buffer, { binary: false });
		}
		for (const socket of rawClients.values()) socket.uncork();
		return null;
	},
	memory({ gc: collect }) {
		if (collect) gc?.();
		return memory();
	},
	cpu() {
		const { user, system } = process.cpuUsage();
		return (user + system) / 1000;
	},
	watch() {
		peak = memory();
		slowQueuePeakBytes = 0;
		watcher = setInterval(() => {
			const now = memory();
			peak = {
				rss: Math.max(peak.rss, now.rss),
				heapUsed: Math.max(peak.heapUsed, now.heapUsed),
				external: Math.max(peak.external, now.external)
			};
			slowQueuePeakBytes = Math.max(slowQueuePeakBytes, slowSocket?.writableLength ?? 0);
		}, 20);
		return null;
	},
	unwatch() {
		if (watcher) clearInterval(watcher);
		return { peak, slowQueuePeakBytes, slowClosedWith };
	},
	async close() {
		for (const ws of rawClients.keys()) ws.terminate();
		await realtime.close();
		await Promise.all([
			new Promise((resolve) => raw.close(resolve)),
			new Promise((resolve) => rawHttp.close(resolve)),
			new Promise((resolve) => http.close(resolve))
		]);
		await bus.close();
		await database.close();
		setImmediate(() => process.exit(0));
		return null;
	}
});
notify('ready', { port, rawPort });
// The bench process is gone (killed, or crashed): so is the point of this one.
process.on('disconnect', () => process.exit(1));
