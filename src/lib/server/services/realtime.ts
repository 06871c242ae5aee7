import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { RatePolicy } from '../auth/rate-limit.ts';
import { validateSession } from '../auth/session.ts';
import * as tickets from '../db/realtime-tickets.ts';
import * as runsDb from '../db/runs.ts';
import { isUuid } from '../ids.ts';
import { hasScope } from '../policy.ts';
import { principalForApiTokenId } from './tokens.ts';
import { authorizeWorkspace } from './workspaces.ts';
import { ServiceError, missingScope, notFound } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { ServiceContext } from './context.ts';

/** What a realtime connection was opened with, re-checked while it stays open. */
export type ConnectionCredential =
	{ kind: 'session'; sessionId: string } | { kind: 'token'; tokenId: string };

/** What the realtime server needs: a sidecar process builds only this, not a whole ServiceContext. */
export type RealtimeContext = Pick<ServiceContext, 'db' | 'bus' | 'now' | 'logger'> & {
	keys: Pick<ServiceContext['keys'], 'realtime'>;
};

export const ticketLifetimeSeconds = 60;
const issuer = 'awe';
const audience = 'awe-realtime';
/** Per person: 30 tickets a minute. */
const ticketRatePolicy: RatePolicy = { name: 'realtime-ticket', points: 30, duration: 60 };

/**
 * A single-use ticket (a JWT, HS256, 60 s) that opens one WebSocket as this principal, for clients
 * that cannot send the session cookie. Its id is stored until used; using it deletes the row.
 */
export async function issueRealtimeTicket(
	ctx: ServiceContext,
	principal: Principal
): Promise<{ ticket: string; expiresAt: Date }> {
	if (!hasScope(principal, 'read')) throw missingScope('read');
	const allowance = await ctx.limiter.consume(principal.user.id, ticketRatePolicy);
	if (!allowance.allowed)
		throw new ServiceError('rate-limited', 'Too many tickets; wait a moment.', {
			retryAfterSeconds: allowance.retryAfterSeconds
		});
	const now = ctx.now();
	const jti = randomUUID();
	const expiresAt = new Date(now.getTime() + ticketLifetimeSeconds * 1000);
	await tickets.purgeExpired(ctx.db, now);
	await tickets.insert(ctx.db, {
		id: jti,
		userId: principal.user.id,
		sessionId: principal.kind === 'session' ? principal.session.id : null,
		apiTokenId: principal.kind === 'token' ? principal.token.id : null,
		expiresAt
	});
	const ticket = await new SignJWT({})
		.setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
		.setIssuer(issuer)
		.setAudience(audience)
		.setSubject(principal.user.id)
		.setJti(jti)
		.setIssuedAt(Math.floor(now.getTime() / 1000))
		.setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
		.sign(ctx.keys.realtime);
	return { ticket, expiresAt };
}

/** The credential a ticket was issued from, using the ticket up; null for anything not a live, unused ticket. */
export async function redeemRealtimeTicket(
	ctx: Pick<RealtimeContext, 'db' | 'now' | 'keys'>,
	ticket: string
): Promise<ConnectionCredential | null> {
	if (ticket.length > 2048) return null;
	let payload;
	try {
		({ payload } = await jwtVerify(ticket, ctx.keys.realtime, {
			algorithms: ['HS256'],
			issuer,
			audience,
			requiredClaims: ['jti', 'sub', 'exp'],
			currentDate: ctx.now()
		}));
	} catch (error) {
		if (error instanceof joseErrors.JOSEError) return null;
		throw error;
	}
	if (typeof payload.jti !== 'string') return null;
	const row = await tickets.redeem(ctx.db, payload.jti, ctx.now());
	if (row === null || row.userId !== payload.sub) return null;
	if (row.sessionId !== null) return { kind: 'session', sessionId: row.sessionId };
	if (row.apiTokenId !== null) return { kind: 'token', tokenId: row.apiTokenId };
	return null;
}

/** The principal behind a connection's credential now, or null once it was revoked or expired. */
export async function principalForCredential(
	ctx: Pick<ServiceContext, 'db' | 'now'>,
	credential: ConnectionCredential
): Promise<Principal | null> {
	if (credential.kind === 'token') return principalForApiTokenId(ctx, credential.tokenId);
	const valid = await validateSession(ctx.db, credential.sessionId, ctx.now(), { renew: false });
	// A session half-way through a two-factor sign-in is not signed in yet.
	if (valid === null || !valid.session.twoFactorVerified) return null;
	return { kind: 'session', user: valid.user, session: valid.session };
}

/**
 * The workspace of a run the principal may read. Missing, malformed and another workspace's run
 * all throw the same not-found error.
 */
export async function authorizeRunFeed(
	ctx: Pick<ServiceContext, 'db'>,
	principal: Principal,
	runId: string
): Promise<{ workspaceId: string }> {
	const run = isUuid(runId) ? await runsDb.getPosition(ctx.db, runId) : null;
	if (!run) throw notFound('Run not found.');
	await authorizeWorkspaceFeed(ctx, principal, run.workspaceId, 'Run not found.');
	return { workspaceId: run.workspaceId };
}

/** Whether the principal may follow a workspace's runs; not-found otherwise (also for lacking a role). */
export async function authorizeWorkspaceFeed(
	ctx: Pick<ServiceContext, 'db'>,
	principal: Principal,
	workspaceId: string,
	missing = 'Workspace not found.'
): Promise<void> {
	try {
		await authorizeWorkspace(ctx.db, principal, workspaceId, 'workflows.read');
	} catch (error) {
		if (error instanceof ServiceError) throw notFound(missing);
		throw error;
	}
}
