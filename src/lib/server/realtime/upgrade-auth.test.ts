import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../../../tests/helpers/database.ts';
import { createTestServices, signUpUser } from '../../../../tests/helpers/services.ts';
import { sessionIdOf } from '../auth/session.ts';
import type { ServiceContext } from '../services/context.ts';
import { issueRealtimeTicket } from '../services/realtime.ts';
import { admitUpgrade, type Admitted, type UpgradeGate } from './upgrade-auth.ts';

/** The upgrade decision alone, against a real database: what a request gets answered, no server. */
const testDb = useTestDatabase();
let ctx: ServiceContext;
let user: Awaited<ReturnType<typeof signUpUser>>;

beforeAll(async () => {
	ctx = createTestServices(testDb.database);
	user = await signUpUser(ctx);
});

const host = 'awe.test';
const ownOrigin = `http://${host}`;

function gate(overrides: Partial<UpgradeGate> = {}): UpgradeGate {
	return {
		services: ctx,
		maxConnectionsPerUser: 50,
		connectionsOf: () => 0,
		isClosed: () => false,
		onError: (error) => {
			throw error;
		},
		...overrides
	};
}

function request(url: string, headers: Record<string, string> = {}): IncomingMessage {
	const message = new IncomingMessage(new Socket());
	message.url = url;
	message.headers = { host, ...headers };
	return message;
}

/** Runs one upgrade through the gate: who was admitted, or the HTTP answer written on the socket. */
async function upgrade(message: IncomingMessage, options: Partial<UpgradeGate> = {}) {
	const written: Buffer[] = [];
	const socket = new Duplex({
		read() {},
		write(chunk: Buffer, _encoding, done) {
			written.push(chunk);
			done();
		}
	});
	let admitted: Admitted | null = null;
	await admitUpgrade(gate(options), message, socket, (who) => (admitted = who));
	const [head = '', body = ''] = Buffer.concat(written).toString().split('\r\n\r\n');
	const [statusLine = '', ...headerLines] = head.split('\r\n');
	return {
		admitted: admitted as Admitted | null,
		status: Number(statusLine.split(' ')[1]) || null,
		contentType: headerLines.find((line) => line.startsWith('Content-Type:')) ?? null,
		problem: body ? (JSON.parse(body) as { status: number; title: string }) : null
	};
}

describe('upgrade authentication', () => {
	it('answers any path but /ws with an empty 404', async () => {
		for (const url of ['/', '/ws/', '/api/ws', '/ws2?ticket=x']) {
			const outcome = await upgrade(request(url, { cookie: `awe_session=${user.token}` }));
			expect(outcome).toMatchObject({ admitted: null, status: 404, problem: null });
		}
	});

	it('refuses the session cookie from a foreign Origin, or with none: 403 problem+json', async () => {
		const origins: Record<string, string>[] = [{ origin: 'http://evil.example' }, {}];
		for (const origin of origins) {
			const outcome = await upgrade(
				request('/ws', { cookie: `awe_session=${user.token}`, ...origin })
			);
			expect(outcome).toMatchObject({
				admitted: null,
				status: 403,
				contentType: 'Content-Type: application/problem+json',
				problem: { status: 403, title: 'Cross-origin' }
			});
		}
	});

	it('answers 401 without a credential, or with a cookie it never issued', async () => {
		const unissued = 'a'.repeat(32);
		const requests: Record<string, string>[] = [
			{ origin: ownOrigin },
			{ origin: ownOrigin, cookie: `awe_session=${unissued}` }
		];
		for (const headers of requests) {
			const outcome = await upgrade(request('/ws', headers));
			expect(outcome).toMatchObject({
				admitted: null,
				status: 401,
				problem: { status: 401, title: 'Unauthorized' }
			});
		}
	});

	it('admits the session cookie from our own origin as that session', async () => {
		const outcome = await upgrade(
			request('/ws', { origin: ownOrigin, cookie: `awe_session=${user.token}` })
		);
		expect(outcome.status).toBeNull();
		expect(outcome.admitted?.credential).toEqual({
			kind: 'session',
			sessionId: sessionIdOf(user.token)
		});
		expect(outcome.admitted?.principal.user.id).toBe(user.principal.user.id);
	});

	it('on an https origin, takes only the __Host- cookie', async () => {
		const origin = 'https://awe.example';
		const secure = await upgrade(
			request('/ws', { origin, cookie: `__Host-awe_session=${user.token}` }),
			{ origin }
		);
		expect(secure.admitted?.principal.user.id).toBe(user.principal.user.id);
		const plain = await upgrade(request('/ws', { origin, cookie: `awe_session=${user.token}` }), {
			origin
		});
		expect(plain).toMatchObject({ admitted: null, status: 401 });
	});

	it('admits a ticket from any origin, once', async () => {
		const { ticket } = await issueRealtimeTicket(ctx, user.principal);
		const url = `/ws?ticket=${encodeURIComponent(ticket)}`;
		const first = await upgrade(request(url, { origin: 'http://elsewhere.example' }));
		expect(first.admitted?.credential).toEqual({
			kind: 'session',
			sessionId: sessionIdOf(user.token)
		});
		expect(first.admitted?.principal.user.id).toBe(user.principal.user.id);
		const again = await upgrade(request(url));
		expect(again).toMatchObject({
			admitted: null,
			status: 401,
			problem: { status: 401, title: 'Invalid ticket' }
		});
	});

	it('answers 429 once the user has as many sockets as the cap allows', async () => {
		const outcome = await upgrade(
			request('/ws', { origin: ownOrigin, cookie: `awe_session=${user.token}` }),
			{ connectionsOf: (userId) => (userId === user.principal.user.id ? 50 : 0) }
		);
		expect(outcome).toMatchObject({
			admitted: null,
			status: 429,
			problem: { status: 429, title: 'Too many connections' }
		});
	});

	it('answers 500 while the server shuts down', async () => {
		const outcome = await upgrade(
			request('/ws', { origin: ownOrigin, cookie: `awe_session=${user.token}` }),
			{ isClosed: () => true }
		);
		expect(outcome).toMatchObject({ admitted: null, status: 500, problem: { title: 'Closing' } });
	});
});
