import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseCookies } from 'cookie';
import { sessionCookieName, sessionIdOf } from '../auth/session.ts';
import type { Principal } from '../principal.ts';
import {
	principalForCredential,
	redeemRealtimeTicket,
	type ConnectionCredential,
	type RealtimeContext
} from '../services/realtime.ts';
import { isRealtimeRequest } from './path.ts';

/** Who opened a socket, once the upgrade passed every check. */
export interface Admitted {
	credential: ConnectionCredential;
	principal: Principal;
}

type Rejection = { status: number; title: string; detail: string };

export interface UpgradeGate {
	services: Pick<RealtimeContext, 'db' | 'now' | 'keys'>;
	/** The app's public origin (ORIGIN); without it, the origin the request was made to. */
	origin?: string;
	/** Headers a trusted proxy sets (adapter-node's PROTOCOL_HEADER and HOST_HEADER). */
	protocolHeader?: string;
	hostHeader?: string;
	maxConnectionsPerUser: number;
	/** Sockets the user has open in this server now. */
	connectionsOf(userId: string): number;
	/** Whether the server is shutting down (no new sockets). */
	isClosed(): boolean;
	onError(error: unknown): void;
}

const statusText: Record<number, string> = {
	401: 'Unauthorized',
	403: 'Forbidden',
	404: 'Not Found',
	429: 'Too Many Requests',
	500: 'Internal Server Error'
};

function reject(socket: Duplex, { status, title, detail }: Rejection): void {
	if (socket.destroyed) return;
	const body = JSON.stringify({ type: 'about:blank', title, status, detail });
	socket.end(
		`HTTP/1.1 ${status} ${statusText[status] ?? 'Error'}\r\n` +
			'Connection: close\r\n' +
			'Content-Type: application/problem+json\r\n' +
			`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
	);
}

const first = (value: string | string[] | undefined) =>
	(Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();

function expectedOrigin(gate: UpgradeGate, request: IncomingMessage): string | null {
	if (gate.origin) return new URL(gate.origin).origin;
	const host = gate.hostHeader
		? first(request.headers[gate.hostHeader.toLowerCase()])
		: request.headers.host;
	const protocol =
		(gate.protocolHeader && first(request.headers[gate.protocolHeader.toLowerCase()])) ||
		('encrypted' in request.socket && request.socket.encrypted ? 'https' : 'http');
	if (!host) return null;
	try {
		return new URL(`${protocol}://${host}`).origin;
	} catch {
		return null;
	}
}

async function authenticate(
	gate: UpgradeGate,
	request: IncomingMessage
): Promise<Admitted | Rejection> {
	const url = new URL(request.url ?? '/', 'http://localhost');
	const ticket = url.searchParams.get('ticket');
	let credential: ConnectionCredential | null = null;
	if (ticket !== null) {
		// A ticket is no ambient credential: any origin (or none, outside browsers) may use it.
		credential = await redeemRealtimeTicket(gate.services, ticket);
		if (credential === null)
			return {
				status: 401,
				title: 'Invalid ticket',
				detail: 'The ticket is invalid, expired or already used.'
			};
	} else {
		const expected = expectedOrigin(gate, request);
		const token = parseCookies(request.headers.cookie ?? '')[
			sessionCookieName(expected?.startsWith('https:') ?? false)
		];
		// The cookie comes with every request to us, whoever's page made it: only our own pages may
		// use it (cross-site WebSocket hijacking).
		if (token !== undefined && (expected === null || request.headers.origin !== expected))
			return {
				status: 403,
				title: 'Cross-origin',
				detail: 'WebSocket connections with the session cookie must come from this origin.'
			};
		if (token !== undefined && /^[a-z2-7]{32}$/.test(token))
			credential = { kind: 'session', sessionId: sessionIdOf(token) };
	}
	const principal = credential && (await principalForCredential(gate.services, credential));
	if (!credential || !principal)
		return {
			status: 401,
			title: 'Unauthorized',
			detail: 'Sign in, or connect with a ticket from POST /api/v1/realtime/ticket.'
		};
	return { credential, principal };
}

/**
 * Decides an HTTP upgrade: anything but `/ws` gets 404; then the session cookie from our own
 * origin, or a single-use ticket, and the per-user cap. A refusal is answered on the socket
 * (problem+json); `open` is called in the same turn as the cap check, so sockets racing in count.
 */
export function admitUpgrade(
	gate: UpgradeGate,
	request: IncomingMessage,
	socket: Duplex,
	open: (admitted: Admitted) => void
): Promise<void> {
	socket.on('error', () => socket.destroy());
	if (!isRealtimeRequest(request)) {
		socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
		return Promise.resolve();
	}
	if (gate.isClosed()) {
		reject(socket, { status: 500, title: 'Closing', detail: 'The server is shutting down.' });
		return Promise.resolve();
	}
	return authenticate(gate, request).then(
		(outcome) => {
			if ('status' in outcome) return reject(socket, outcome);
			if (gate.connectionsOf(outcome.principal.user.id) >= gate.maxConnectionsPerUser)
				return reject(socket, {
					status: 429,
					title: 'Too many connections',
					detail: `At most ${gate.maxConnectionsPerUser} realtime connections per user.`
				});
			if (gate.isClosed() || socket.destroyed) {
				socket.destroy();
				return;
			}
			open(outcome);
		},
		(error: unknown) => {
			gate.onError(error);
			reject(socket, {
				status: 500,
				title: 'Internal error',
				detail: 'Something went wrong on our side.'
			});
		}
	);
}
