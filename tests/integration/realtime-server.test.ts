import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { closeCodes, type ServerMessage } from '../../src/lib/schemas/realtime.ts';
import { redactedMark } from '../../src/lib/server/credentials/redact.ts';
import type { NodeKind } from '../../src/lib/server/engine/kinds/types.ts';
import { EventLog, lockRun } from '../../src/lib/server/engine/transitions.ts';
import { publishEvents } from '../../src/lib/server/bus/run-events.ts';
import { createRedisBus } from '../../src/lib/server/bus/redis-bus.ts';
import {
	createRealtimeServer,
	type RealtimeLimits,
	type RealtimeServer
} from '../../src/lib/server/realtime/server.ts';
import { signOut } from '../../src/lib/server/services/accounts.ts';
import { decideApproval, listApprovals } from '../../src/lib/server/services/runs.ts';
import type { ServiceContext } from '../../src/lib/server/services/context.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { scaled } from '../helpers/deadline.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta, principalFor, signUpUser } from '../helpers/services.ts';

/**
 * The realtime server in this process, on a real node:http server and real sockets, against the
 * test database (PGlite, or PostgreSQL with the Redis bus): replay then live, many subscribers
 * joining while a writer races them, the workspace feed, streamed deltas, slow consumers and
 * revocation.
 */
const testDb = useTestDatabase();

// Streams `count` tokens, a few per millisecond, then returns their concatenation.
// With `secret`, it conceals it (as a step using a credential does) and streams it in small pieces.
const streamerKind: NodeKind<{ count: number; secret?: string }> = {
	kind: 'streamer',
	description: 'Test: streams tokens',
	configSchema: z.strictObject({ count: z.number().int().min(1), secret: z.string().optional() }),
	branches: () => 'none',
	async execute(context, config) {
		if (config.secret) context.conceal([config.secret]);
		const tokens = Array.from({ length: config.count }, (_, i) => `t${i} `);
		if (config.secret) tokens.splice(1, 0, ...(config.secret.match(/.{1,3}/g) ?? []), ' ');
		let text = '';
		for (let i = 0; i < tokens.length; i++) {
			const token = tokens[i] ?? '';
			text += token;
			context.stream(token);
			if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
		}
		return { type: 'succeeded', output: text };
	}
};

let engine: EngineHarness;
let ctx: ServiceContext;
let server: http.Server;
let realtime: RealtimeServer;
let origin: string;

async function startServer(limits: Partial<RealtimeLimits> = {}) {
	const created = createRealtimeServer({ services: ctx, limits });
	const httpServer = http.createServer((_request, response) => response.writeHead(404).end());
	httpServer.on('upgrade', (request, socket, head) => created.handleUpgrade(request, socket, head));
	await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
	const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
	return { realtime: created, server: httpServer, origin: url };
}

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database, [streamerKind as never]);
	ctx = engine.ctx;
	// On PostgreSQL runs, the real Redis bus between the writer and the server.
	if (process.env.TEST_REDIS_URL) {
		ctx.bus = await createRedisBus(process.env.TEST_REDIS_URL, (error) => {
			throw error;
		});
	}
	// One user opens many sockets here; the per-user cap is tested in tests/security/realtime.test.ts.
	({ realtime, server, origin } = await startServer({ maxConnectionsPerUser: 1_000 }));
	await engine.startWorker({ pollMs: 100 });
});

afterAll(async () => {
	await engine.stopWorkers();
	await realtime.close();
	server.close();
	if (process.env.TEST_REDIS_URL) await ctx.bus.close();
});

/** A socket with everything it received, and helpers to wait for messages. */
async function connect(token: string, at = origin) {
	const ws = new WebSocket(`${at.replace('http', 'ws')}/ws`, {
		headers: { cookie: `awe_session=${token}`, origin: at }
	});
	const received: ServerMessage[] = [];
	const waiters = new Set<() => void>();
	let closeCode: number | null = null;
	ws.on('message', (data) => {
		received.push(JSON.parse(String(data)) as ServerMessage);
		for (const wake of waiters) wake();
	});
	ws.on('close', (code) => {
		closeCode = code;
		for (const wake of waiters) wake();
	});
	await new Promise<void>((resolve, reject) => {
		ws.once('open', resolve);
		ws.once('error', reject);
	});
	/** Waits for `check`; `timeoutMs` holds on a quiet machine and is scaled by the load. */
	async function until<T>(check: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
		const limit = scaled(timeoutMs);
		const deadline = Date.now() + limit;
		for (;;) {
			const value = check();
			if (value) return value;
			if (Date.now() > deadline)
				throw new Error(
					`timed out after ${limit} ms; received ${JSON.stringify(received.slice(-5))}`
				);
			await new Promise<void>((resolve) => {
				const wake = () => {
					waiters.delete(wake);
					clearTimeout(timer);
					resolve();
				};
				const timer = setTimeout(wake, 100);
				waiters.add(wake);
			});
		}
	}
	return {
		ws,
		received,
		until,
		send: (message: unknown) => ws.send(JSON.stringify(message)),
		events: (runId: string) =>
			received.filter(
				(message): message is Extract<ServerMessage, { type: 'event' }> =>
					message.type === 'event' && message.topic === 'run' && message.runId === runId
			),
		get closeCode() {
			return closeCode;
		}
	};
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Appends events to a run in their own transaction, published after a delay (out of commit order). */
async function append(runId: string, count: number, publishDelayMs: number, bytes = 0) {
	const events = await testDb.database.db.transaction(async (tx) => {
		await lockRun(tx, runId);
		const log = new EventLog();
		for (let i = 0; i < count; i++)
			log.add(runId, engine.workspaceId, {
				type: 'test.tick',
				data: bytes > 0 ? { pad: 'x'.repeat(bytes) } : {}
			});
		return log.write(tx);
	});
	await sleep(publishDelayMs);
	await publishEvents(ctx.bus, events);
	return events.at(-1)?.seq ?? 0;
}

/** Approves the run's pending approval as the owner. */
async function approve(runId: string) {
	const pending = await listApprovals(ctx, engine.owner.principal, engine.workspaceId, 'pending');
	const approval = pending.find((item) => item.runId === runId);
	if (!approval) throw new Error('no approval');
	await decideApproval(
		ctx,
		engine.owner.principal,
		engine.workspaceId,
		approval.id,
		{ approved: true, comment: '' },
		meta
	);
}

async function waitingRun() {
	const workflowId = await engine.publish({
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'ok', kind: 'approval', config: { title: 'Go?' } }
		],
		edges: [{ from: 'start', to: 'ok' }]
	});
	const run = await engine.start(workflowId, {});
	await engine.waitFor(run.id, ['waiting']);
	return run;
}

describe('the realtime server', () => {
	it('replays a finished part of a run, then streams the rest live, in order', async () => {
		const workflowId = await engine.publish({
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'a', kind: 'transform', config: { expression: '1' } },
				{ id: 'b', kind: 'transform', config: { expression: '2' } },
				{ id: 'c', kind: 'delay', config: { duration: '300ms' } },
				{ id: 'd', kind: 'transform', config: { expression: '3' } }
			],
			edges: [
				{ from: 'start', to: 'a' },
				{ from: 'a', to: 'b' },
				{ from: 'b', to: 'c' },
				{ from: 'c', to: 'd' }
			]
		});
		const run = await engine.start(workflowId, {});
		const client = await connect(engine.owner.token);
		client.send({ type: 'subscribe', id: 'r1', topic: 'run', runId: run.id, afterSeq: 0 });
		await client.until(() =>
			client.events(run.id).some((event) => event.event === 'run.succeeded')
		);
		expect(client.received[0]).toEqual({
			type: 'subscribed',
			id: 'r1',
			topic: 'run',
			runId: run.id,
			afterSeq: 0
		});
		const seqs = client.events(run.id).map((event) => event.seq);
		expect(seqs).toEqual(seqs.map((_, index) => index + 1));
		const persisted = await engine.eventTypes(run.id);
		expect(client.events(run.id).map((event) => event.event)).toEqual(persisted);
		client.ws.close();
	});

	it('gives each of many subscribers joining mid-stream exactly the events after its cursor', async () => {
		const run = await waitingRun();
		// A backlog of several replay pages, so live events arrive while replays are under way.
		let last = 0;
		for (let i = 0; i < 12; i++) last = await append(run.id, 100, 0);
		let done = false;
		const writer = async (seed: number) => {
			for (let i = 0; i < 40; i++) {
				// Read `last` after the await: the other writer may have moved it meanwhile.
				const seq = await append(run.id, 1 + ((i + seed) % 3), ((i * 7 + seed) % 4) * 5);
				last = Math.max(last, seq);
			}
		};
		const writing = Promise.all([writer(0), writer(1)]).then(() => (done = true));
		const clients: { afterSeq: number; client: Awaited<ReturnType<typeof connect>> }[] = [];
		while (!done) {
			// Several at once, at cursors behind, at and ahead of what is committed.
			const joining = await Promise.all(
				Array.from({ length: 4 }, async () => {
					const client = await connect(engine.owner.token);
					const afterSeq = Math.floor(Math.random() * (last + 2));
					client.send({ type: 'subscribe', topic: 'run', runId: run.id, afterSeq });
					return { afterSeq, client };
				})
			);
			clients.push(...joining);
			await sleep(3);
		}
		await writing;
		expect(clients.length).toBeGreaterThan(10);
		for (const { afterSeq, client } of clients) {
			if (afterSeq < last) await client.until(() => client.events(run.id).at(-1)?.seq === last);
			const expected = Array.from(
				{ length: Math.max(0, last - afterSeq) },
				(_, index) => afterSeq + index + 1
			);
			expect(client.events(run.id).map((event) => event.seq)).toEqual(expected);
			client.ws.close();
		}
	});

	it('sends the workspace feed: runs queued, waiting and finished', async () => {
		const client = await connect(engine.owner.token);
		client.send({ type: 'subscribe', topic: 'workspace', workspaceId: engine.workspaceId });
		await client.until(() => client.received.some((message) => message.type === 'subscribed'));
		const run = await waitingRun();
		await client.until(() =>
			client.received.some(
				(message) =>
					message.type === 'event' && message.runId === run.id && message.event === 'run.waiting'
			)
		);
		const feed = client.received.filter(
			(message): message is Extract<ServerMessage, { type: 'event' }> =>
				message.type === 'event' && message.runId === run.id
		);
		expect(feed.every((message) => message.topic === 'workspace')).toBe(true);
		expect(feed.every((message) => message.event.startsWith('run.'))).toBe(true);
		expect(feed.map((message) => message.event)).toContain('run.queued');
		client.ws.close();
	});

	/**
	 * Follows a run from before its `talk` step (a streamer with `config`) starts, to its end: the
	 * deltas it received (live only), and everything else.
	 */
	async function streamedRun(config: { count: number; secret?: string }) {
		const workflowId = await engine.publish({
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'gate', kind: 'approval', config: { title: 'Start streaming?' } },
				{ id: 'talk', kind: 'streamer', config }
			],
			edges: [
				{ from: 'start', to: 'gate' },
				{ from: 'gate', to: 'talk' }
			]
		});
		const run = await engine.start(workflowId, {});
		await engine.waitFor(run.id, ['waiting']);
		const client = await connect(engine.owner.token);
		client.send({ type: 'subscribe', topic: 'run', runId: run.id, afterSeq: 0 });
		await client.until(() => client.events(run.id).some((event) => event.event === 'run.waiting'));
		await approve(run.id);
		await client.until(() =>
			client.events(run.id).some((event) => event.event === 'run.succeeded')
		);
		await sleep(100);
		client.ws.close();
		const deltas = client.received.filter(
			(message): message is Extract<ServerMessage, { type: 'delta' }> =>
				message.type === 'delta' && message.runId === run.id
		);
		return { deltas, received: client.received };
	}

	it('streams a step’s output as coalesced deltas that add up to the whole text', async () => {
		const { deltas } = await streamedRun({ count: 300 });
		const expected = Array.from({ length: 300 }, (_, i) => `t${i} `).join('');
		const sorted = deltas.sort((a, b) => a.offset - b.offset);
		expect(sorted.map((delta) => delta.text).join('')).toBe(expected);
		let offset = 0;
		for (const delta of sorted) {
			expect(delta.offset).toBe(offset);
			offset += delta.text.length;
		}
		// 300 tokens over a few tens of milliseconds: coalesced into far fewer messages.
		expect(deltas.length).toBeLessThan(300 / 5);
	});

	it('scrubs a concealed secret from streamed output, also when it comes in pieces', async () => {
		const secret = 'sk-live-4f9a2b7c1d8e6f30';
		const { deltas, received } = await streamedRun({ count: 20, secret });
		const streamed = deltas.map((delta) => delta.text).join('');
		const tokens = Array.from({ length: 19 }, (_, i) => `t${i + 1} `).join('');
		expect(streamed).toBe(`t0 ${redactedMark} ${tokens}`);
		expect(JSON.stringify(received)).not.toContain(secret.slice(0, 9));
	});

	it('disconnects a client that stops reading (4008) instead of buffering for it', async () => {
		const small = await startServer({ maxBufferedBytes: 64 * 1024 });
		try {
			const run = await waitingRun();
			const slow = await connect(engine.owner.token, small.origin);
			const fast = await connect(engine.owner.token, small.origin);
			for (const client of [slow, fast])
				client.send({ type: 'subscribe', topic: 'run', runId: run.id, afterSeq: 0 });
			await slow.until(() => slow.received.some((message) => message.type === 'subscribed'));
			// Stop reading: the kernel buffers fill, then the server's send buffer.
			const socket = (slow.ws as unknown as { _socket: Socket })._socket;
			socket.pause();
			let last = 0;
			for (let i = 0; i < 60; i++) last = await append(run.id, 10, 0, 16 * 1024);
			await fast.until(() => fast.events(run.id).at(-1)?.seq === last, 60_000);
			socket.resume();
			await slow.until(() => slow.closeCode !== null, 30_000);
			expect(slow.closeCode).toBe(closeCodes.slowConsumer);
			expect(slow.events(run.id).length).toBeLessThan(last);
			// The reader that kept up got everything.
			expect(fast.events(run.id).map((event) => event.seq)).toEqual(
				Array.from({ length: last }, (_, index) => index + 1)
			);
			fast.ws.close();
		} finally {
			await small.realtime.close();
			small.server.close();
		}
	});

	it('closes a session’s sockets (4001) as soon as it signs out', async () => {
		const member = await signUpUser(ctx, { name: 'Leaving soon' });
		const client = await connect(member.token);
		client.send({ type: 'ping', id: 'p' });
		await client.until(() => client.received.some((message) => message.type === 'pong'));
		await signOut(ctx, await principalFor(ctx, member.token), meta);
		await client.until(() => client.closeCode !== null);
		expect(client.closeCode).toBe(closeCodes.unauthorized);
		await expect(connect(member.token)).rejects.toThrow(/401/);
	});
});
