import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/lib/schemas/realtime.ts';
import { deriveKey } from '../../src/lib/server/platform/crypto.ts';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient } from '../helpers/http-client.ts';
import {
	closeAllClients,
	connect,
	createApiToken,
	issueTicket,
	open,
	pause,
	publishWorkflow,
	refused,
	requestTicket,
	sessionCookie,
	sleeperDefinition,
	startRun,
	type RealtimeClient,
	type Received
} from './realtime-support.ts';
import {
	expectProblem,
	signInViaForm,
	signUpFirst,
	signUpInvited,
	uniqueEmail,
	unissuedToken
} from './support.ts';

/**
 * The `/ws` WebSocket server, attacked over real sockets against the production build: who may open
 * a socket (the session cookie from our own origin, or a single-use ticket), what a socket may follow,
 * how revoking access ends it, and what malformed or abusive clients get.
 */

// A known secret lets the tests sign tickets themselves: expired ones, and forgeries made with the key.
const secretKey = 'realtime-test-secret-key-0123456789abcdef';
const ticketKey = deriveKey(secretKey, 'realtime-ticket');
const app = useAppServer({ AWE_SECRET_KEY: secretKey });

afterEach(closeAllClients);

interface Member {
	client: TestClient;
	userId: string;
}

/** Owner of w1 (its first workspace) and w2; `viewer` is a viewer of w1 only. */
let owner: Member;
let viewer: Member;
let w1: string;
let w2: string;
let sleeper: string;
let w1Run: string;
let w2Run: string;

async function userIdOf(client: TestClient): Promise<string> {
	return ((await (await client.request('/api/v1/me')).json()) as { id: string }).id;
}

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = { client: first.client, userId: await userIdOf(first.client) };
	w1 = first.workspaceId;
	const created = await owner.client.json('/api/v1/workspaces', 'POST', { name: 'Secret W2' });
	expect(created.status).toBe(201);
	w2 = ((await created.json()) as { id: string }).id;
	sleeper = await publishWorkflow(owner.client, w1, 'Sleeper', sleeperDefinition);
	w1Run = await startRun(owner.client, w1, sleeper);
	w2Run = await startRun(owner.client, w2, await publishWorkflow(owner.client, w2, 'Secret'));
	const invited = await signUpInvited(app.url, owner.client, w1, 'viewer');
	viewer = { client: invited.client, userId: invited.userId };
});

/** How a browser tab of the app itself connects: the session cookie and our own Origin. */
function asBrowser(member: Member | TestClient) {
	const client = member instanceof TestClient ? member : member.client;
	return { cookie: sessionCookie(client), origin: client.origin };
}

const subscribeRun = (client: RealtimeClient, runId: string, afterSeq?: number) =>
	client.request({
		type: 'subscribe',
		topic: 'run',
		runId,
		...(afterSeq === undefined ? {} : { afterSeq })
	});

const subscribeWorkspace = (client: RealtimeClient, workspaceId: string) =>
	client.request({ type: 'subscribe', topic: 'workspace', workspaceId });

/** A frame with its request id and the probed id blanked, to compare two answers byte for byte. */
function blanked(reply: Received, probedId: string): string {
	const id = 'id' in reply.message ? reply.message.id : undefined;
	return reply.raw
		.replaceAll(JSON.stringify(probedId), '"<probed>"')
		.replaceAll(JSON.stringify(id), '"<request>"');
}

const isEvent = (runId: string, event: string) => (message: ServerMessage) =>
	message.type === 'event' && message.runId === runId && message.event === event;

async function expectAlive(client: RealtimeClient) {
	expect(await client.ping()).toMatchObject({ type: 'pong' });
	expect(client.closure).toBeNull();
}

describe('cross-site WebSocket hijacking', () => {
	it('refuses the session cookie from another origin, or with no Origin: 403, no socket', async () => {
		const { cookie, origin: own } = asBrowser(viewer);
		const port = new URL(app.url).port;
		const origins = [
			'https://evil.example',
			'null',
			`http://127.0.0.1:${Number(port) + 1}`,
			`https://127.0.0.1:${port}`,
			`http://localhost:${port}`,
			`${own}.evil.example`,
			undefined
		];
		for (const origin of origins) {
			const problem = await refused(app.url, { cookie, origin }, 403);
			expect(problem.title, String(origin)).toBe('Cross-origin');
		}
	});

	it('opens with the same cookie from the app’s own origin', async () => {
		const client = await open(app.url, asBrowser(viewer));
		await expectAlive(client);
	});

	it('answers a session cookie it never issued with 401, even from its own origin', async () => {
		const origin = viewer.client.origin;
		for (const token of [unissuedToken(), 'not-a-token', unissuedToken(31)]) {
			const problem = await refused(app.url, { cookie: `awe_session=${token}`, origin }, 401);
			expect(problem.title).toBe('Unauthorized');
		}
	});

	it('mints no ticket for another origin’s page holding the cookie', async () => {
		const response = await viewer.client.request('/api/v1/realtime/ticket', {
			method: 'POST',
			headers: { origin: 'https://evil.example' }
		});
		expect(response.headers.get('access-control-allow-origin')).toBeNull();
		await expectProblem(response, 403, 'cross-origin');
	});
});

describe('tickets', () => {
	it('without credentials, the upgrade and the ticket endpoint answer 401', async () => {
		await refused(app.url, {}, 401);
		await refused(app.url, { origin: viewer.client.origin }, 401);
		const anonymous = new TestClient(app.url);
		await expectProblem(await requestTicket(anonymous), 401, 'unauthorized');
	});

	it('issues a 60-second ticket bound to the user that opens one socket, from any origin, once', async () => {
		const response = await requestTicket(viewer.client);
		expect(response.status).toBe(201);
		expect(response.headers.get('cache-control')).toBe('no-store');
		const issued = (await response.json()) as { ticket: string; expiresAt: string; url: string };
		expect(decodeProtectedHeader(issued.ticket)).toEqual({ alg: 'HS256', typ: 'JWT' });
		const claims = decodeJwt(issued.ticket);
		// Nothing in it but what identifies the ticket: no session id, no scopes.
		expect(Object.keys(claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sub']);
		expect(claims).toMatchObject({ aud: 'awe-realtime', sub: viewer.userId });
		expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
		expect(Math.floor(Date.parse(issued.expiresAt) / 1000)).toBe(claims.exp);
		expect(issued.url).toBe(`/ws?ticket=${encodeURIComponent(issued.ticket)}`);

		// A ticket is no ambient credential, so any origin may use it.
		const client = await open(app.url, { path: issued.url, origin: 'https://evil.example' });
		await expectAlive(client);
		const again = await refused(app.url, { ticket: issued.ticket }, 401);
		expect(again.title).toBe('Invalid ticket');
	});

	it('of several connections racing with one ticket, exactly one opens', async () => {
		for (let round = 0; round < 3; round += 1) {
			const { ticket } = await issueTicket(viewer.client);
			const outcomes = await Promise.all(
				Array.from({ length: 5 }, () => connect(app.url, { ticket }))
			);
			expect(outcomes.filter((outcome) => outcome.opened)).toHaveLength(1);
			expect(outcomes.flatMap((outcome) => (outcome.opened ? [] : [outcome.status]))).toEqual([
				401, 401, 401, 401
			]);
		}
	});

	it('refuses garbage, forged, altered and expired tickets, which leaves the real one usable', async () => {
		const { ticket } = await issueTicket(viewer.client);
		const claims = decodeJwt(ticket);
		const [header = '', payload = '', signature = ''] = ticket.split('.');
		const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
		const sign = (body: JWTPayload, key: Uint8Array, alg = 'HS256') =>
			new SignJWT(body).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
		// A character in the middle: the last one partly encodes padding bits.
		const flipped =
			signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
		const forgeries: Record<string, string> = {
			empty: '',
			garbage: 'not-a-ticket',
			'three dots': 'a.b.c',
			'over-long': 'x'.repeat(5000),
			'a session token': unissuedToken(),
			'alg none': `${encode({ alg: 'none', typ: 'JWT' })}.${payload}.`,
			'signed with another key': await sign(claims, randomBytes(32)),
			'another user as subject': `${header}.${encode({ ...claims, sub: owner.userId })}.${signature}`,
			'altered signature': `${header}.${payload}.${flipped}`,
			'no signature': `${header}.${payload}.`,
			expired: await sign(
				{ ...claims, iat: (claims.iat ?? 0) - 120, exp: (claims.iat ?? 0) - 1 },
				ticketKey
			),
			'HS512 with the right key': await sign(claims, ticketKey, 'HS512'),
			'another audience': await sign({ ...claims, aud: 'awe-api' }, ticketKey)
		};
		for (const [name, forged] of Object.entries(forgeries)) {
			const upgrade = await connect(app.url, { ticket: forged });
			expect(upgrade.opened ? 101 : upgrade.status, name).toBe(401);
		}
		const client = await open(app.url, { ticket });
		await expectAlive(client);
	});

	it('even signed with the key, a ticket needs its stored row, for the same user', async () => {
		const { ticket } = await issueTicket(viewer.client);
		const claims = decodeJwt(ticket);
		const sign = (body: JWTPayload) =>
			new SignJWT(body).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(ticketKey);
		await refused(app.url, { ticket: await sign({ ...claims, jti: randomUUID() }) }, 401);
		await refused(app.url, { ticket: await sign({ ...claims, sub: owner.userId }) }, 401);
	});

	it('a read-scoped API token gets a working ticket; a token without read gets 403', async () => {
		const reader = await createApiToken(owner.client, 'realtime reader', ['read']);
		const writer = await createApiToken(owner.client, 'realtime writer', ['write', 'run']);
		const anonymous = new TestClient(app.url);
		const { ticket } = await issueTicket(anonymous, reader.secret);
		const client = await open(app.url, { ticket });
		expect((await subscribeWorkspace(client, w1)).message).toMatchObject({
			type: 'subscribed',
			topic: 'workspace',
			workspaceId: w1
		});
		await expectProblem(await requestTicket(anonymous, writer.secret), 403, 'forbidden');
	});

	it('limits how many tickets one user may mint', async () => {
		const member = await signUpInvited(app.url, owner.client, w1, 'viewer');
		let limited: Response | null = null;
		for (let attempt = 0; attempt < 100 && limited === null; attempt += 1) {
			const response = await requestTicket(member.client);
			if (response.status === 429) limited = response;
			else {
				expect(response.status).toBe(201);
				await response.body?.cancel();
			}
		}
		if (!limited) throw new Error('100 tickets were issued without a refusal');
		expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
		await expectProblem(limited, 429, 'rate-limited');
	});
});

describe('authorization', () => {
	it('another workspace’s run answers exactly what a nonexistent run does', async () => {
		const client = await open(app.url, asBrowser(viewer));
		for (const afterSeq of [undefined, 0, 3]) {
			const foreign = await subscribeRun(client, w2Run, afterSeq);
			const missingId = randomUUID();
			const missing = await subscribeRun(client, missingId, afterSeq);
			expect(foreign.message).toMatchObject({ type: 'error', code: 'not_found', runId: w2Run });
			expect(blanked(foreign, w2Run)).toBe(blanked(missing, missingId));
		}
		await expectAlive(client);
	});

	it('another workspace’s feed answers exactly what a nonexistent workspace does', async () => {
		const client = await open(app.url, asBrowser(viewer));
		const foreign = await subscribeWorkspace(client, w2);
		const missingId = randomUUID();
		const missing = await subscribeWorkspace(client, missingId);
		expect(foreign.message).toMatchObject({ type: 'error', code: 'not_found', workspaceId: w2 });
		expect(blanked(foreign, w2)).toBe(blanked(missing, missingId));
		await expectAlive(client);
	});

	it('a viewer follows their own workspace’s run from the start, and its feed live', async () => {
		const client = await open(app.url, asBrowser(viewer));
		expect((await subscribeRun(client, w1Run, 0)).message).toMatchObject({
			type: 'subscribed',
			topic: 'run',
			runId: w1Run,
			afterSeq: 0
		});
		const queued = await client.waitFor(isEvent(w1Run, 'run.queued'), 'run.queued');
		expect(queued.message).toMatchObject({ topic: 'run', seq: 1, workspaceId: w1 });

		expect((await subscribeWorkspace(client, w1)).message).toMatchObject({ type: 'subscribed' });
		const next = await startRun(owner.client, w1, sleeper);
		const live = await client.waitFor(
			(message) =>
				isEvent(next, 'run.queued')(message) && 'topic' in message && message.topic === 'workspace',
			'the new run on the workspace feed'
		);
		expect(live.message).toMatchObject({ workspaceId: w1, seq: 1 });
	});
});

describe('revocation', () => {
	it('signing out closes that session’s sockets (4001) and voids its tickets; other sessions live on', async () => {
		const email = uniqueEmail('signout');
		const member = await signUpInvited(app.url, owner.client, w1, 'viewer', email);
		const phone = await signInViaForm(app.url, email);
		expect(phone.response.status).toBe(303);
		const laptopCookie = asBrowser(member.client);
		const laptop = await open(app.url, laptopCookie);
		expect((await subscribeRun(laptop, w1Run)).message).toMatchObject({ type: 'subscribed' });
		const viaTicket = await open(app.url, { ticket: (await issueTicket(member.client)).ticket });
		const unused = await issueTicket(member.client);
		const other = await open(app.url, asBrowser(phone.client));

		const out = await member.client.postForm('/logout', {});
		expect(out.status).toBe(303);
		expect((await laptop.closed()).code).toBe(4001);
		expect((await viaTicket.closed()).code).toBe(4001);
		await expectAlive(other);
		await refused(app.url, laptopCookie, 401);
		await refused(app.url, { ticket: unused.ticket }, 401);
	});

	it('revoking an API token closes the sockets opened with its tickets (4001)', async () => {
		const token = await createApiToken(owner.client, 'short-lived', ['read']);
		const anonymous = new TestClient(app.url);
		const byToken = await open(app.url, {
			ticket: (await issueTicket(anonymous, token.secret)).ticket
		});
		const unused = await issueTicket(anonymous, token.secret);
		const byCookie = await open(app.url, asBrowser(owner));

		const revoked = await owner.client.request(`/api/v1/tokens/${token.id}`, {
			method: 'DELETE',
			headers: { origin: owner.client.origin }
		});
		expect(revoked.status).toBe(204);
		expect((await byToken.closed()).code).toBe(4001);
		await expectAlive(byCookie);
		await refused(app.url, { ticket: unused.ticket }, 401);
		expect((await requestTicket(anonymous, token.secret)).status).toBe(401);
	});

	it('removing a member ends their subscriptions with access_revoked, and nothing more arrives', async () => {
		const leaver = await signUpInvited(app.url, owner.client, w1, 'viewer');
		const client = await open(app.url, asBrowser(leaver.client));
		expect((await subscribeRun(client, w1Run)).message).toMatchObject({ type: 'subscribed' });
		expect((await subscribeWorkspace(client, w1)).message).toMatchObject({ type: 'subscribed' });
		const watcher = await open(app.url, asBrowser(owner));
		expect((await subscribeWorkspace(watcher, w1)).message).toMatchObject({ type: 'subscribed' });

		const removed = await owner.client.request(
			`/api/v1/workspaces/${w1}/members/${leaver.userId}`,
			{
				method: 'DELETE',
				headers: { origin: owner.client.origin }
			}
		);
		expect(removed.status).toBe(204);
		const revoked = (message: ServerMessage) =>
			message.type === 'error' && message.code === 'access_revoked';
		await client.waitFor(
			(message) => revoked(message) && 'runId' in message && message.runId === w1Run,
			'access_revoked for the run'
		);
		await client.waitFor(
			(message) => revoked(message) && 'workspaceId' in message && message.workspaceId === w1,
			'access_revoked for the feed'
		);
		await expectAlive(client);

		const again = await subscribeRun(client, w1Run);
		const missingId = randomUUID();
		expect(blanked(again, w1Run)).toBe(blanked(await subscribeRun(client, missingId), missingId));

		// The hub sends a workspace frame to all its sockets at once: once the watcher has it, a frame
		// still meant for the removed member would be ahead of their pong.
		const next = await startRun(owner.client, w1, sleeper);
		await watcher.waitFor(isEvent(next, 'run.queued'), 'the new run on the owner’s feed');
		await expectAlive(client);
		expect(
			client.messages.filter((message) => 'runId' in message && message.runId === next)
		).toEqual([]);
	});
});

describe('robustness', () => {
	it('closes a socket that sends over 64 KiB with 1009, and keeps serving', async () => {
		const client = await open(app.url, asBrowser(viewer));
		// Exactly at the limit is still read (and is no valid message).
		expect((await client.exchange('x'.repeat(64 * 1024))).message).toMatchObject({
			type: 'error',
			code: 'invalid_message'
		});
		client.sendRaw(JSON.stringify({ type: 'ping', id: 'big', pad: 'x'.repeat(70 * 1024) }));
		expect((await client.closed()).code).toBe(1009);
		await expectAlive(await open(app.url, asBrowser(viewer)));
	});

	it('answers malformed messages with invalid_message and stays open', async () => {
		const client = await open(app.url, asBrowser(viewer));
		const runId = randomUUID();
		const cases: [string, string | Buffer, boolean?][] = [
			['not JSON', 'hello'],
			['truncated JSON', '{"type":"ping"'],
			['an empty frame', ''],
			['null', 'null'],
			['a number', '42'],
			['an array', '[{"type":"ping"}]'],
			['deeply nested', '['.repeat(30_000) + ']'.repeat(30_000)],
			['no type', JSON.stringify({ topic: 'run', runId })],
			['an unknown type', JSON.stringify({ type: 'hack', id: 'echoed' })],
			['no topic', JSON.stringify({ type: 'subscribe', runId })],
			['an unknown topic', JSON.stringify({ type: 'subscribe', topic: 'user', userId: runId })],
			['a run id no UUID', JSON.stringify({ type: 'subscribe', topic: 'run', runId: "1' OR 1=1" })],
			[
				'a negative cursor',
				JSON.stringify({ type: 'subscribe', topic: 'run', runId, afterSeq: -1 })
			],
			[
				'a fractional cursor',
				JSON.stringify({ type: 'subscribe', topic: 'run', runId, afterSeq: 1.5 })
			],
			[
				'a string cursor',
				JSON.stringify({ type: 'subscribe', topic: 'run', runId, afterSeq: '0' })
			],
			['a huge cursor', `{"type":"subscribe","topic":"run","runId":"${runId}","afterSeq":1e300}`],
			['an extra key', JSON.stringify({ type: 'ping', admin: true })],
			[
				'both topics at once',
				JSON.stringify({ type: 'subscribe', topic: 'run', runId, workspaceId: w2 })
			],
			['a __proto__ key', '{"type":"ping","__proto__":{"isAdmin":true}}'],
			['a numeric id', JSON.stringify({ type: 'ping', id: 7 })],
			['an over-long id', JSON.stringify({ type: 'ping', id: 'x'.repeat(65) })],
			['a binary frame', Buffer.from('{"type":"ping"}'), true]
		];
		for (const [name, data, binary] of cases) {
			const reply = await client.exchange(data, binary);
			expect(reply.message, name).toMatchObject({ type: 'error', code: 'invalid_message' });
			const id = name === 'an unknown type' ? 'echoed' : undefined;
			expect('id' in reply.message ? reply.message.id : undefined, name).toBe(id);
		}
		await expectAlive(client);
	});

	it('closes on a text frame that is not UTF-8 (1007), and keeps serving', async () => {
		const client = await open(app.url, asBrowser(viewer));
		client.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
		expect((await client.closed()).code).toBe(1007);
		await expectAlive(await open(app.url, asBrowser(viewer)));
	});

	it('answers a flood with rate_limited, then closes it with 4029; others are served', async () => {
		const client = await open(app.url, asBrowser(viewer));
		for (let index = 0; index < 200; index += 1)
			client.sendRaw(JSON.stringify({ type: 'ping', id: `f${index}` }));
		expect((await client.closed()).code).toBe(4029);
		const limited = client.messages.filter(
			(message) => message.type === 'error' && message.code === 'rate_limited'
		);
		expect(limited).toHaveLength(20);
		// The bucket starts full: at least a burst's worth was answered.
		const pongs = client.messages.filter((message) => message.type === 'pong');
		expect(pongs.length).toBeGreaterThanOrEqual(40);
		await expectAlive(await open(app.url, asBrowser(viewer)));
	});

	it('refuses upgrades on any other path', async () => {
		for (const path of ['/other', '/ws/', '/WS', '/api/v1/ws', '/ws.json']) {
			const upgrade = await connect(app.url, { ...asBrowser(viewer), path });
			expect(upgrade.opened, path).toBe(false);
			expect(upgrade.opened ? 101 : upgrade.status, path).toBe(404);
		}
	});

	it('caps realtime connections per user at 50, also when they arrive together', async () => {
		const member = await signUpInvited(app.url, owner.client, w1, 'viewer');
		const outcomes = await Promise.all(
			Array.from({ length: 51 }, () => connect(app.url, asBrowser(member.client)))
		);
		const opened = outcomes.flatMap((outcome) => (outcome.opened ? [outcome.client] : []));
		expect(opened).toHaveLength(50);
		const [rejected] = outcomes.flatMap((outcome) => (outcome.opened ? [] : [outcome]));
		expect(rejected?.status).toBe(429);
		expect(rejected?.contentType).toBe('application/problem+json');

		opened[0]?.socket.close();
		await opened[0]?.closed();
		// The server forgets the socket once its end of the close is done; ask until it has.
		for (;;) {
			const upgrade = await connect(app.url, asBrowser(member.client));
			if (upgrade.opened) break;
			expect(upgrade.status).toBe(429);
			await pause(50);
		}
	});
});

describe('subscriptions per socket', () => {
	const runIds: string[] = [];

	beforeAll(async () => {
		const created = await owner.client.json('/api/v1/workspaces', 'POST', { name: 'Many runs' });
		expect(created.status).toBe(201);
		const workspaceId = ((await created.json()) as { id: string }).id;
		const workflowId = await publishWorkflow(owner.client, workspaceId, 'Many');
		for (let batch = 0; batch < 13; batch += 1)
			runIds.push(
				...(await Promise.all(
					Array.from({ length: 10 }, () => startRun(owner.client, workspaceId, workflowId))
				))
			);
	}, 120_000);

	/** Subscribes in bursts of 20 with a second between them, inside the rate limit (40, 20/s). */
	async function subscribeAll(client: RealtimeClient, ids: string[]) {
		for (let start = 0; start < ids.length; start += 20) {
			if (start > 0) await pause(1_100);
			const replies = await Promise.all(
				ids.slice(start, start + 20).map((runId) => subscribeRun(client, runId))
			);
			// On failure, what the server logged says why.
			for (const reply of replies)
				expect(reply.message, app.output().slice(-4000)).toMatchObject({ type: 'subscribed' });
		}
	}

	it('allows 100 subscriptions; the 101st gets too_many_subscriptions until one ends', async () => {
		const client = await open(app.url, asBrowser(owner));
		await subscribeAll(client, runIds.slice(0, 100));
		const extra = runIds[100] ?? '';
		expect((await subscribeRun(client, extra)).message).toMatchObject({
			type: 'error',
			code: 'too_many_subscriptions',
			runId: extra
		});
		const left = await client.request({ type: 'unsubscribe', topic: 'run', runId: runIds[0] });
		expect(left.message).toMatchObject({ type: 'unsubscribed', runId: runIds[0] });
		expect((await subscribeRun(client, extra)).message).toMatchObject({ type: 'subscribed' });
	}, 60_000);

	// A limit checked before the awaited authorization, but counting a subscription only after it,
	// would let every subscribe of a burst through.
	it('holds the limit when subscribes arrive together', async () => {
		const client = await open(app.url, asBrowser(owner));
		await subscribeAll(client, runIds.slice(0, 99));
		await pause(2_100);
		const burst = runIds.slice(99, 129).map((runId, index) => ({
			type: 'subscribe',
			topic: 'run',
			runId,
			id: `burst${index}`
		}));
		client.sendTogether(burst);
		const replies = await client.waitForCount(
			(message) => 'id' in message && message.id?.startsWith('burst') === true,
			burst.length,
			'answers to the burst'
		);
		const outcomes = replies.map(({ message }) =>
			message.type === 'error' ? message.code : message.type
		);
		expect(outcomes.filter((outcome) => outcome === 'subscribed')).toHaveLength(1);
		expect(outcomes.filter((outcome) => outcome === 'too_many_subscriptions')).toHaveLength(29);
	}, 60_000);
});

describe('messages racing on one topic', () => {
	// Two subscribes to one topic that arrive together must not both pass the "replace the earlier
	// one" step before either is recorded: both would stay live, the first one never released.
	it('a repeated subscribe replaces the earlier one: live events arrive once', async () => {
		const runId = await startRun(owner.client, w1, sleeper);
		const client = await open(app.url, asBrowser(owner));
		client.sendTogether([
			{ type: 'subscribe', topic: 'run', runId, id: 'first' },
			{ type: 'subscribe', topic: 'run', runId, id: 'second' }
		]);
		await client.waitForCount(
			(message) => message.type === 'subscribed' && 'runId' in message && message.runId === runId,
			2,
			'both subscribed'
		);
		await client.waitFor(isEvent(runId, 'run.queued'), 'the replay');
		const cancelled = await owner.client.json(
			`/api/v1/workspaces/${w1}/runs/${runId}/cancel`,
			'POST',
			{}
		);
		expect(cancelled.status).toBe(200);
		await client.waitFor(isEvent(runId, 'run.cancelled'), 'run.cancelled');
		// Both copies are sent in one go: any second one is ahead of the pong.
		await expectAlive(client);
		expect(client.messages.filter(isEvent(runId, 'run.cancelled'))).toHaveLength(1);
	});

	// Frames are handled in order, so the unsubscribe wins even while the subscribe is still being
	// authorized; otherwise the socket keeps a subscription its client believes is gone.
	it('an unsubscribe right behind its subscribe wins: no live events follow', async () => {
		const runId = await startRun(owner.client, w1, sleeper);
		const watcher = await open(app.url, asBrowser(owner));
		expect((await subscribeRun(watcher, runId)).message).toMatchObject({ type: 'subscribed' });
		const client = await open(app.url, asBrowser(owner));
		client.sendTogether([
			{ type: 'subscribe', topic: 'run', runId, id: 'on' },
			{ type: 'unsubscribe', topic: 'run', runId, id: 'off' }
		]);
		await client.waitFor((message) => 'id' in message && message.id === 'on', 'the subscribe');
		await client.waitFor((message) => 'id' in message && message.id === 'off', 'the unsubscribe');
		const cancelled = await owner.client.json(
			`/api/v1/workspaces/${w1}/runs/${runId}/cancel`,
			'POST',
			{}
		);
		expect(cancelled.status).toBe(200);
		// The hub sends a run's frame to all its live followers at once, so a copy for this socket
		// would be ahead of its pong.
		await watcher.waitFor(isEvent(runId, 'run.cancelled'), 'run.cancelled on the watcher');
		await expectAlive(client);
		expect(client.messages.filter(isEvent(runId, 'run.cancelled'))).toEqual([]);
	});
});
