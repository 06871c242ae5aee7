import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ServerMessage } from '../../src/lib/schemas/realtime.ts';
import { appServerStartTimeout, startAppServer, type AppServer } from '../helpers/app-server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { waitUntil } from '../helpers/deadline.ts';
import { TestClient } from '../helpers/http-client.ts';
import { signUpFirst } from '../security/support.ts';

/**
 * Scale-out over Redis: three processes on one PostgreSQL database and one Redis — web server A
 * (no worker), web server B (with a worker) and the realtime sidecar. A run started and executed
 * on B streams to clients connected to A and to the sidecar. PostgreSQL and Redis only: embedded
 * mode is one process by design.
 */
const shared = Boolean(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL);

describe.skipIf(!shared)('realtime across processes', () => {
	let database: TestDatabase;
	const servers: AppServer[] = [];
	let serverA: AppServer;
	let serverB: AppServer;
	let sidecar: AppServer;

	beforeAll(async () => {
		database = await createTestDatabase();
		await database.database.close();
		const env = {
			DATABASE_URL: database.url ?? '',
			REDIS_URL: process.env.TEST_REDIS_URL ?? '',
			AWE_SECRET_KEY: 'scale-test-secret-key-0123456789abcdef'
		};
		// B first: it migrates the new database.
		serverB = await startAppServer({ ...env, IN_PROCESS_WORKER: 'true' });
		servers.push(serverB);
		serverA = await startAppServer({ ...env, IN_PROCESS_WORKER: 'false' });
		servers.push(serverA);
		sidecar = await startAppServer(env, [
			'--experimental-strip-types',
			'--no-warnings=ExperimentalWarning',
			'src/realtime.ts'
		]);
		servers.push(sidecar);
	}, appServerStartTimeout(3));

	afterAll(async () => {
		await Promise.all(servers.map((server) => server.stop()));
		await database?.drop();
	});

	function listen(url: string, headers: Record<string, string> = {}) {
		const ws = new WebSocket(url, { headers });
		const received: ServerMessage[] = [];
		ws.on('message', (data) => received.push(JSON.parse(String(data)) as ServerMessage));
		const opened = new Promise<void>((resolve, reject) => {
			ws.once('open', resolve);
			ws.once('error', reject);
		});
		return { ws, received, opened };
	}

	const until = (what: string, check: () => boolean) =>
		waitUntil(check, { what, baseMs: 30_000, intervalMs: 25 });

	it('streams a run executed by B’s worker to clients of A and of the sidecar', async () => {
		const { client: ownerOnA, workspaceId } = await signUpFirst(serverA.url);
		// The same session, used against B.
		const ownerOnB = new TestClient(serverB.url);
		for (const [name, value] of ownerOnA.cookies) ownerOnB.cookies.set(name, value);

		const onA = listen(`${serverA.url.replace('http', 'ws')}/ws`, {
			cookie: [...ownerOnA.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
			origin: ownerOnA.origin
		});
		const ticket = await ownerOnA.json('/api/v1/realtime/ticket', 'POST', {});
		expect(ticket.status).toBe(201);
		const { url } = (await ticket.json()) as { url: string };
		const onSidecar = listen(`${sidecar.url.replace('http', 'ws')}${url}`);
		await Promise.all([onA.opened, onSidecar.opened]);
		for (const socket of [onA, onSidecar])
			socket.ws.send(JSON.stringify({ type: 'subscribe', topic: 'workspace', workspaceId }));
		await until('both subscriptions to the workspace feed to be confirmed', () =>
			[onA, onSidecar].every((socket) => socket.received.some((m) => m.type === 'subscribed'))
		);

		const base = `/api/v1/workspaces/${workspaceId}`;
		const created = await ownerOnB.json(`${base}/workflows`, 'POST', {
			name: 'Across processes',
			definition: {
				nodes: [
					{ id: 'start', kind: 'input' },
					{ id: 'wait', kind: 'delay', config: { duration: '1s' } },
					{ id: 'done', kind: 'transform', config: { expression: '"done"' } }
				],
				edges: [
					{ from: 'start', to: 'wait' },
					{ from: 'wait', to: 'done' }
				]
			}
		});
		expect(created.status).toBe(201);
		const { id: workflowId } = (await created.json()) as { id: string };
		expect(
			(await ownerOnB.json(`${base}/workflows/${workflowId}/versions/1/publish`, 'POST', {})).status
		).toBe(200);
		const started = await ownerOnB.json(`${base}/workflows/${workflowId}/runs`, 'POST', {
			input: {}
		});
		expect(started.status).toBe(201);
		const { run } = (await started.json()) as { run: { id: string } };

		// The feed tells both that the run started; then each follows it from the beginning.
		for (const socket of [onA, onSidecar]) {
			await until('the feed to announce the run', () =>
				socket.received.some(
					(m) => m.type === 'event' && m.topic === 'workspace' && m.runId === run.id
				)
			);
			socket.ws.send(
				JSON.stringify({ type: 'subscribe', topic: 'run', runId: run.id, afterSeq: 0 })
			);
		}
		const runEvents = (socket: typeof onA) =>
			socket.received.filter(
				(m): m is Extract<ServerMessage, { type: 'event' }> =>
					m.type === 'event' && m.topic === 'run' && m.runId === run.id
			);
		for (const socket of [onA, onSidecar])
			await until('run.succeeded on the run subscription', () =>
				runEvents(socket).some((event) => event.event === 'run.succeeded')
			);
		const seqsA = runEvents(onA).map((event) => event.seq);
		expect(seqsA).toEqual(seqsA.map((_, index) => index + 1));
		expect(runEvents(onSidecar).map((event) => event.seq)).toEqual(seqsA);
		// Executed by B's worker: A has none, and the run went through a wait that lasted a second,
		// so the tail of the run reached A and the sidecar live over Redis.
		expect(runEvents(onA).map((event) => event.event)).toContain('step.succeeded');
		onA.ws.close();
		onSidecar.ws.close();
	});
});
