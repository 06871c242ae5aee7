import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
	clientMessageSchema,
	closeCodes,
	type ClientMessage,
	type EventMessage,
	type ServerMessage
} from '$lib/schemas/realtime';
import { RealtimeClient, type ConnectionState, type RealtimeClientOptions } from './client';

/** One connection the test server accepted, and what the client sent over it. */
interface Peer {
	socket: WebSocket;
	received: ClientMessage[];
	closed: boolean;
	/** Leave pings unanswered (a server that hangs). */
	silent: boolean;
	send(message: ServerMessage | string): void;
}

/**
 * A real WebSocket server speaking the protocol as far as the client needs it: it checks what the
 * client sends against the shared schema, answers pings and confirms subscriptions; the tests send
 * the rest.
 */
async function startServer(options: { accept?: () => boolean } = {}) {
	const wss = new WebSocketServer({
		port: 0,
		host: '127.0.0.1',
		verifyClient: () => options.accept?.() ?? true
	});
	await new Promise<void>((resolve) => wss.once('listening', resolve));
	const peers: Peer[] = [];
	const invalid: unknown[] = [];
	wss.on('connection', (socket) => {
		const peer: Peer = {
			socket,
			received: [],
			closed: false,
			silent: false,
			send: (message) =>
				socket.send(typeof message === 'string' ? message : JSON.stringify(message))
		};
		peers.push(peer);
		socket.on('close', () => (peer.closed = true));
		socket.on('message', (data) => {
			const parsed = clientMessageSchema.safeParse(JSON.parse(data.toString()));
			if (!parsed.success) return invalid.push(data.toString());
			const message = parsed.data;
			peer.received.push(message);
			if (message.type === 'ping' && !peer.silent) peer.send({ type: 'pong' });
			if (message.type === 'subscribe') peer.send({ ...message, type: 'subscribed' });
		});
	});
	const { port } = wss.address() as AddressInfo;
	return {
		url: `ws://127.0.0.1:${port}/ws`,
		peers,
		invalid,
		close: () => {
			for (const client of wss.clients) client.terminate();
			return new Promise<void>((resolve) => wss.close(() => resolve()));
		}
	};
}

type TestServer = Awaited<ReturnType<typeof startServer>>;

const workspaceId = randomUUID();

function runEvent(runId: string, seq: number): EventMessage {
	return {
		type: 'event',
		topic: 'run',
		runId,
		workspaceId,
		seq,
		event: 'step.succeeded',
		stepId: randomUUID(),
		nodeId: 'greet',
		data: {},
		at: new Date().toISOString()
	};
}

const until = (condition: () => void) => vi.waitFor(condition, { timeout: 5_000, interval: 5 });

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
	for (const cleanup of cleanups.reverse()) await cleanup();
	cleanups = [];
});

async function setup(
	options: Partial<RealtimeClientOptions> = {},
	serverOptions: Parameters<typeof startServer>[0] = {}
) {
	const server = await startServer(serverOptions);
	const problems: string[] = [];
	const client = new RealtimeClient({
		url: server.url,
		WebSocket,
		initialBackoffMs: 10,
		maxBackoffMs: 40,
		onProblem: (problem) => problems.push(problem),
		...options
	});
	const states: ConnectionState[] = [];
	client.onState((state) => states.push(state));
	cleanups.push(server.close, () => client.close());
	return { server, client, states, problems };
}

/** The peer's messages of one type. */
const sent = (peer: Peer | undefined, type: ClientMessage['type']) =>
	peer?.received.filter((message) => message.type === type) ?? [];

const peer = (server: TestServer, index: number) => {
	const found = server.peers[index];
	if (!found) throw new Error(`no connection #${index} yet`);
	return found;
};

describe('RealtimeClient', () => {
	it('resumes a run from the last event it delivered, delivering each event once', async () => {
		const { server, client, states } = await setup();
		const runId = randomUUID();
		const delivered: number[] = [];
		client.subscribeRun(runId, { afterSeq: 2, onEvent: (event) => delivered.push(event.seq) });

		await until(() =>
			expect(sent(server.peers[0], 'subscribe')).toEqual([
				{ type: 'subscribe', topic: 'run', runId, afterSeq: 2 }
			])
		);
		const first = peer(server, 0);
		for (const seq of [1, 2, 3, 4, 3]) first.send(runEvent(runId, seq));
		await until(() => expect(delivered).toEqual([3, 4]));

		// The server goes away without a word; the client comes back and asks from seq 4 on.
		first.socket.terminate();
		await until(() =>
			expect(sent(server.peers[1], 'subscribe')).toEqual([
				{ type: 'subscribe', topic: 'run', runId, afterSeq: 4 }
			])
		);
		// Even a server that replays too much is shown each event once.
		for (const seq of [3, 4, 5]) peer(server, 1).send(runEvent(runId, seq));
		await until(() => expect(delivered).toEqual([3, 4, 5]));
		expect(states.map((state) => state.status)).toEqual([
			'connecting',
			'open',
			'reconnecting',
			'reconnecting',
			'open'
		]);
		expect(server.invalid).toEqual([]);
	});

	it('subscribes to workspaces again after a reconnect, and passes their events on', async () => {
		const { server, client } = await setup();
		const feed: string[] = [];
		client.subscribeWorkspace(workspaceId, { onEvent: (event) => feed.push(event.event) });
		const subscribe = { type: 'subscribe', topic: 'workspace', workspaceId };
		await until(() => expect(sent(server.peers[0], 'subscribe')).toEqual([subscribe]));
		peer(server, 0).socket.terminate();
		await until(() => expect(sent(server.peers[1], 'subscribe')).toEqual([subscribe]));
		peer(server, 1).send({ ...runEvent(randomUUID(), 1), topic: 'workspace', event: 'run.queued' });
		await until(() => expect(feed).toEqual(['run.queued']));
	});

	it('waits longer after each failed attempt, and starts over after a stable connection', async () => {
		let accept = false;
		const { server, client, states } = await setup(
			{ initialBackoffMs: 4, maxBackoffMs: 32, stableAfterMs: 50 },
			{ accept: () => accept }
		);
		const waits = () =>
			states.flatMap((state) => (state.retryInMs === null ? [] : [state.retryInMs]));
		await until(() => expect(waits().length).toBeGreaterThanOrEqual(6));
		// Each wait is between half and all of its ceiling: 4, 8, 16, then 32 ms at most.
		waits()
			.slice(0, 6)
			.forEach((wait, attempt) => {
				const ceiling = Math.min(32, 4 * 2 ** attempt);
				expect(wait).toBeGreaterThanOrEqual(ceiling / 2);
				expect(wait).toBeLessThanOrEqual(ceiling);
			});

		accept = true;
		await until(() => expect(client.state.status).toBe('open'));
		await sleep(100); // longer than stableAfterMs
		const before = waits().length;
		peer(server, 0).socket.terminate();
		await until(() => expect(waits().length).toBe(before + 1));
		expect(waits().at(-1)).toBeLessThanOrEqual(4);
	});

	it('waits as long as it ever does after being closed for sending too much', async () => {
		const { server, client } = await setup({ initialBackoffMs: 10, maxBackoffMs: 1_000 });
		await until(() => expect(client.state.status).toBe('open'));
		peer(server, 0).socket.close(closeCodes.rateLimited, 'too many messages');
		await until(() => expect(client.state.retryInMs).not.toBeNull());
		expect(client.state.retryInMs).toBeGreaterThanOrEqual(500);
	});

	it('does not reconnect after the server says the session ended (4001)', async () => {
		const { server, client, states } = await setup();
		await until(() => expect(client.state.status).toBe('open'));
		peer(server, 0).socket.close(closeCodes.unauthorized, 'signed out');
		await until(() => expect(client.state.status).toBe('unauthorized'));
		await sleep(200); // many times the 10-40 ms backoff
		expect(server.peers).toHaveLength(1);
		expect(states.at(-1)).toEqual({ status: 'unauthorized', retryInMs: null });
	});

	it('stops as unauthorized when refused and no longer signed in, keeps trying while signed in', async () => {
		let signedIn = true;
		const checks: boolean[] = [];
		const { server, client } = await setup(
			{
				checkSignedIn: async () => {
					checks.push(signedIn);
					return signedIn;
				}
			},
			{ accept: () => false }
		);
		await until(() => expect(checks.length).toBeGreaterThanOrEqual(3));
		expect(client.state.status).not.toBe('unauthorized');
		signedIn = false;
		await until(() => expect(client.state.status).toBe('unauthorized'));
		const attempts = checks.length;
		await sleep(200); // many times the 10-40 ms backoff
		expect(checks.length).toBe(attempts);
		expect(server.peers).toHaveLength(0);
	});

	it('ignores and reports messages that break the protocol', async () => {
		const { server, client, problems } = await setup();
		const runId = randomUUID();
		const delivered: number[] = [];
		client.subscribeRun(runId, { onEvent: (event) => delivered.push(event.seq) });
		await until(() => expect(sent(server.peers[0], 'subscribe')).toHaveLength(1));
		const connection = peer(server, 0);
		connection.send('not json');
		connection.send(JSON.stringify({ type: 'gossip' }));
		connection.send(JSON.stringify({ ...runEvent(runId, 1), seq: 'one' }));
		connection.send(JSON.stringify({ ...runEvent(runId, 1), extra: true }));
		connection.socket.send(Buffer.from('binary'), { binary: true });
		connection.send(runEvent(runId, 1));

		await until(() => expect(delivered).toEqual([1]));
		expect(problems).toEqual([
			'ignored a message that is not JSON',
			'ignored an invalid message',
			'ignored an invalid message',
			'ignored an invalid message',
			'ignored a binary message'
		]);
		expect(server.peers).toHaveLength(1);
	});

	it('sends unsubscribe, then neither delivers nor renews that subscription', async () => {
		const { server, client } = await setup();
		const [kept, dropped] = [randomUUID(), randomUUID()];
		const delivered: string[] = [];
		client.subscribeRun(kept, { onEvent: (event) => delivered.push(event.runId) });
		const unsubscribe = client.subscribeRun(dropped, {
			onEvent: (event) => delivered.push(event.runId)
		});
		await until(() => expect(sent(server.peers[0], 'subscribe')).toHaveLength(2));

		unsubscribe();
		await until(() =>
			expect(sent(server.peers[0], 'unsubscribe')).toEqual([
				{ type: 'unsubscribe', topic: 'run', runId: dropped }
			])
		);
		peer(server, 0).send(runEvent(dropped, 1));
		peer(server, 0).send(runEvent(kept, 1));
		await until(() => expect(delivered).toEqual([kept]));

		peer(server, 0).socket.terminate();
		await until(() => expect(sent(server.peers[1], 'subscribe')).toHaveLength(1));
		expect(sent(server.peers[1], 'subscribe')).toEqual([
			{ type: 'subscribe', topic: 'run', runId: kept, afterSeq: 1 }
		]);
	});

	it('starts over after an internal error, keeping the subscription and its place', async () => {
		const { server, client } = await setup();
		const runId = randomUUID();
		const errors: string[] = [];
		client.subscribeRun(runId, { onEvent: () => {}, onError: (error) => errors.push(error.code) });
		await until(() => expect(sent(server.peers[0], 'subscribe')).toHaveLength(1));
		peer(server, 0).send(runEvent(runId, 1));
		peer(server, 0).send({ type: 'error', code: 'internal', message: 'Try again.', runId });
		await until(() =>
			expect(sent(server.peers[1], 'subscribe')).toEqual([
				{ type: 'subscribe', topic: 'run', runId, afterSeq: 1 }
			])
		);
		expect(errors).toEqual([]);
	});

	it('ends a subscription the server refuses, without renewing it', async () => {
		const { server, client } = await setup();
		const [missing, other] = [randomUUID(), randomUUID()];
		const errors: string[] = [];
		client.subscribeRun(missing, {
			onEvent: () => {},
			onError: (error) => errors.push(error.code)
		});
		client.subscribeRun(other, { onEvent: () => {} });
		await until(() => expect(sent(server.peers[0], 'subscribe')).toHaveLength(2));
		peer(server, 0).send({
			type: 'error',
			code: 'not_found',
			message: 'No such run.',
			runId: missing
		});
		await until(() => expect(errors).toEqual(['not_found']));
		peer(server, 0).socket.terminate();
		await until(() => expect(sent(server.peers[1], 'subscribe')).toHaveLength(1));
		expect(sent(server.peers[1], 'subscribe')).toMatchObject([{ runId: other }]);
	});

	it('pings a quiet server and reconnects when it does not answer', async () => {
		const { server } = await setup({ pingIntervalMs: 20, pongTimeoutMs: 20 });
		await until(() => expect(server.peers).toHaveLength(1));
		const hung = peer(server, 0);
		hung.silent = true;
		await until(() => expect(server.peers).toHaveLength(2));
		expect(sent(hung, 'ping').length).toBeGreaterThan(0);
		await until(() => expect(hung.closed).toBe(true));

		// A server that answers keeps its connection.
		const answering = peer(server, 1);
		await until(() => expect(sent(answering, 'ping').length).toBeGreaterThanOrEqual(3));
		expect(server.peers).toHaveLength(2);
		expect(answering.closed).toBe(false);
	});

	it('stays closed after close()', async () => {
		const { server, client } = await setup();
		await until(() => expect(client.state.status).toBe('open'));
		client.close();
		await until(() => expect(peer(server, 0).closed).toBe(true));
		await sleep(100);
		expect(server.peers).toHaveLength(1);
		expect(client.state).toEqual({ status: 'closed', retryInMs: null });
	});
});
