// Child process of bench/realtime.ts: the WebSocket clients, in their own process so their CPU is
// not the server's. A client records when each event arrives and nothing else: the seq is read from
// its place in the frame (no JSON.parse) and UTF-8 validation is off, to keep the harness cheap and
// the server the thing measured. Latencies are worked out at the end against the commit times.
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import {
	notify,
	serve,
	wallClock,
	type ClientCommands,
	type PhaseStats,
	type Group,
	type Target
} from './ipc.ts';

const eventPrefix = Buffer.from('{"type":"event"');
const seqKey = Buffer.from('"seq":');

/** The event's seq, or -1 for any other message. */
function seqOf(data: Buffer): number {
	if (data.compare(eventPrefix, 0, eventPrefix.length, 0, eventPrefix.length) !== 0) return -1;
	let at = data.indexOf(seqKey) + seqKey.length;
	let seq = 0;
	for (let c = data[at]; c !== undefined && c >= 48 && c <= 57; c = data[++at])
		seq = seq * 10 + c - 48;
	return seq;
}

interface Client {
	ws: WebSocket;
	group: Group;
	/** Arrival time of event `firstSeq + i` in this phase, 0 until it arrives. */
	arrivals: Float64Array;
	last: number;
}

const groups: Record<Group, Client[]> = { raw: [], realtime: [] };
const phase = {
	group: 'raw' as Group,
	firstSeq: 0,
	events: 0,
	delivered: 0,
	duplicates: 0,
	outOfOrder: 0,
	first: 0,
	last: 0
};
let reported = 0;
/** Fast connections the server closed (slow consumer, …): none should be. */
let clientsCut = 0;

function receive(client: Client, data: Buffer): void {
	const at = wallClock();
	const seq = seqOf(data);
	if (seq < 0) return;
	const index = seq - phase.firstSeq;
	if (client.group !== phase.group || index < 0 || index >= client.arrivals.length) return;
	if (client.arrivals[index] !== 0) {
		phase.duplicates += 1;
		return;
	}
	if (seq !== client.last + 1) phase.outOfOrder += 1;
	client.last = seq;
	client.arrivals[index] = at;
	phase.delivered += 1;
	if (phase.first === 0) phase.first = at;
	phase.last = at;
}

setInterval(() => {
	if (phase.delivered === reported) return;
	reported = phase.delivered;
	notify('progress', reported);
}, 5).unref();

/** Opens one connection and, for the realtime server, waits for its subscription to be confirmed. */
function open({ url, headers, runId, afterSeq }: Target): Promise<WebSocket> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { headers, perMessageDeflate: false, skipUTF8Validation: true });
		ws.once('error', reject);
		// Errors after the connection opened show up as its close code (or as missing events).
		ws.on('error', () => {});
		ws.once('unexpected-response', (_request, response) =>
			reject(new Error(`upgrade refused: ${response.statusCode}`))
		);
		ws.once('open', () => {
			if (runId === undefined) return resolve(ws);
			ws.send(JSON.stringify({ type: 'subscribe', topic: 'run', runId, afterSeq }));
			ws.once('message', (data: Buffer) => {
				if (data.toString().startsWith('{"type":"subscribed"')) resolve(ws);
				else reject(new Error(`subscribe failed: ${data.toString()}`));
			});
		});
	});
}

function percentiles(values: Float64Array): { p50: number; p99: number; max: number } {
	values.sort();
	const at = (q: number) =>
		values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? NaN;
	const round = (ms: number) => Number(ms.toFixed(2));
	return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(values.at(-1) ?? NaN) };
}

let slow: { ws: WebSocket; socket: Socket; closed: Promise<number> } | null = null;

serve<ClientCommands>({
	clock: () => wallClock(),
	cpu() {
		const { user, system } = process.cpuUsage();
		return (user + system) / 1000;
	},

	async connect({ group, count, ...target }) {
		const clients = groups[group];
		const started = wallClock();
		for (let opened = 0; opened < count;) {
			const batch = Math.min(100, count - opened);
			const sockets = await Promise.all(Array.from({ length: batch }, () => open(target)));
			for (const ws of sockets) {
				const client: Client = { ws, group, arrivals: new Float64Array(0), last: 0 };
				ws.on('message', (data: Buffer) => receive(client, data));
				ws.on('close', (code) => {
					if (code >= 4000) clientsCut += 1;
				});
				clients.push(client);
			}
			opened += batch;
		}
		return { connected: clients.length, seconds: (wallClock() - started) / 1000 };
	},

	phase({ group, firstSeq, events }) {
		Object.assign(phase, {
			group,
			firstSeq,
			events,
			delivered: 0,
			duplicates: 0,
			outOfOrder: 0,
			first: 0,
			last: 0
		});
		reported = 0;
		for (const client of groups[group]) {
			client.arrivals = new Float64Array(events);
			client.last = firstSeq - 1;
		}
		return null;
	},

	finish({ sentAt }) {
		const clients = groups[phase.group];
		const latencies = new Float64Array(phase.delivered);
		const fanOut = new Float64Array(phase.events).fill(-Infinity);
		let n = 0;
		for (const client of clients) {
			client.arrivals.forEach((at, i) => {
				if (at === 0) return;
				const latency = at - (sentAt[i] ?? NaN);
				latencies[n++] = latency;
				fanOut[i] = Math.max(fanOut[i] ?? -Infinity, latency);
			});
			client.arrivals = new Float64Array(0);
		}
		const expected = phase.events * clients.length;
		return {
			expected,
			delivered: phase.delivered,
			missing: expected - phase.delivered,
			clientsCut,
			duplicates: phase.duplicates,
			outOfOrder: phase.outOfOrder,
			firstReceivedAt: phase.first,
			lastReceivedAt: phase.last,
			latencyMs: percentiles(latencies.subarray(0, n)),
			fanOutMs: percentiles(fanOut.filter((ms) => ms !== -Infinity))
		} satisfies PhaseStats;
	},

	async connectSlow(target) {
		const ws = await open({
			...target,
			url: `${target.url}${target.url.includes('?') ? '&' : '?'}bench=slow`
		});
		// The socket `ws` reads from: paused, the kernel's buffers fill and then the server's queue.
		const socket = (ws as unknown as { _socket: Socket })._socket;
		socket.pause();
		const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
		slow = { ws, socket, closed };
		return null;
	},

	async resumeSlow({ awaitClose }) {
		if (!slow) throw new Error('no slow client');
		const { socket, closed } = slow;
		socket.resume();
		const code = await Promise.race([
			closed,
			new Promise<null>((resolve) => setTimeout(() => resolve(null), awaitClose ? 10_000 : 500))
		]);
		slow.ws.terminate();
		slow = null;
		return { closeCode: code };
	},

	async closeAll({ group, keep }) {
		const leaving = groups[group].splice(keep);
		await Promise.all(
			leaving.map(
				({ ws }) =>
					new Promise<void>((resolve) => {
						const timer = setTimeout(() => ws.terminate(), 2_000);
						ws.once('close', () => {
							clearTimeout(timer);
							resolve();
						});
						ws.close(1000);
					})
			)
		);
		return null;
	}
});
// The bench process is gone (killed, or crashed): so is the point of this one.
process.on('disconnect', () => process.exit(1));
