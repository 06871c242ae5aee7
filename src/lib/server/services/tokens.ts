import { isUuid } from '../ids.ts';
import { apiTokenHash, generateApiToken } from '../auth/api-token.ts';
import * as apiTokens from '../db/api-tokens.ts';
import type { ApiToken, User } from '../db/schema/index.ts';
import { audited } from './audit.ts';
import { hasScope } from '../policy.ts';
import { ServiceError, missingScope } from '../errors.ts';
import { apiScopes, type ApiScope, type Principal, type RequestMeta } from '../principal.ts';
import type { ServiceContext } from './context.ts';
import { announceAccessChange } from '../bus/access.ts';

const day = 24 * 60 * 60 * 1000;
export const tokenLifetimeDays = { default: 30, max: 366 };
// lastUsedAt is for people, not forensics: one write a minute per token keeps requests cheap.
const touchEveryMs = 60_000;

export async function createApiToken(
	ctx: ServiceContext,
	principal: Principal,
	input: { name: string; scopes: ApiScope[]; expiresInDays: number },
	meta: RequestMeta
) {
	// A token that could mint tokens would outlive its own revocation.
	if (principal.kind !== 'session')
		throw new ServiceError('forbidden', 'Tokens are created from a signed-in browser.');
	const scopes = apiScopes.filter((scope) => input.scopes.includes(scope));
	if (scopes.length === 0)
		throw new ServiceError('invalid', 'Choose at least one scope.', {
			fields: { scopes: 'Required.' }
		});
	const days = Math.min(Math.max(1, Math.round(input.expiresInDays)), tokenLifetimeDays.max);
	const { token, hash, hint } = generateApiToken();
	const created = await audited(
		ctx.db,
		meta,
		(tx) =>
			apiTokens.create(tx, {
				userId: principal.user.id,
				name: input.name,
				tokenHash: hash,
				hint,
				scopes,
				expiresAt: new Date(ctx.now().getTime() + days * day)
			}),
		(token) => ({
			action: 'token.created',
			actorUserId: principal.user.id,
			target: { type: 'api_token', id: token.id },
			details: { name: input.name, scopes, expiresAt: token.expiresAt }
		})
	);
	return { token, ...describe(created, ctx.now()) };
}

function describe(token: Awaited<ReturnType<typeof apiTokens.listForUser>>[number], now: Date) {
	const state = token.revokedAt ? 'revoked' : token.expiresAt <= now ? 'expired' : 'active';
	const { id, name, hint, scopes, createdAt, expiresAt, lastUsedAt, revokedAt } = token;
	return { id, name, hint, scopes, createdAt, expiresAt, lastUsedAt, revokedAt, state };
}

export async function listApiTokens(ctx: ServiceContext, principal: Principal) {
	if (!hasScope(principal, 'read')) throw missingScope('read');
	const now = ctx.now();
	return (await apiTokens.listForUser(ctx.db, principal.user.id)).map((token) =>
		describe(token, now)
	);
}

export async function revokeApiToken(
	ctx: ServiceContext,
	principal: Principal,
	tokenId: string,
	meta: RequestMeta
): Promise<void> {
	if (!hasScope(principal, 'write')) throw missingScope('write');
	if (!isUuid(tokenId)) throw new ServiceError('not-found', 'Token not found.');
	await audited(
		ctx.db,
		meta,
		async (tx) => {
			if (!(await apiTokens.revoke(tx, principal.user.id, tokenId, ctx.now())))
				throw new ServiceError('not-found', 'Token not found.');
		},
		{
			action: 'token.revoked',
			actorUserId: principal.user.id,
			target: { type: 'api_token', id: tokenId }
		}
	);
	await announceAccessChange(ctx, principal.user.id);
}

/** The principal behind an `Authorization: Bearer awe_…` header, or null when it is not a live token. */
export async function authenticateApiToken(
	ctx: ServiceContext,
	bearer: string
): Promise<Principal | null> {
	const hash = apiTokenHash(bearer);
	if (hash === null) return null;
	const principal = livePrincipal(await apiTokens.getWithUser(ctx.db, hash), ctx.now());
	const lastUsedAt = principal?.token.lastUsedAt;
	if (principal && (!lastUsedAt || ctx.now().getTime() - lastUsedAt.getTime() > touchEveryMs)) {
		await apiTokens.touch(ctx.db, principal.token.id, ctx.now());
	}
	return principal;
}

/** The principal of a token by id (a realtime connection opened with it), or null when no longer live. */
export async function principalForApiTokenId(
	ctx: Pick<ServiceContext, 'db' | 'now'>,
	tokenId: string
): Promise<Principal | null> {
	return livePrincipal(await apiTokens.getByIdWithUser(ctx.db, tokenId), ctx.now());
}

function livePrincipal(
	found: { token: ApiToken; user: User } | null,
	now: Date
): Extract<Principal, { kind: 'token' }> | null {
	if (
		!found ||
		found.token.revokedAt ||
		found.token.expiresAt <= now ||
		found.user.status !== 'active'
	)
		return null;
	const scopes = found.token.scopes.filter((scope): scope is ApiScope =>
		(apiScopes as readonly string[]).includes(scope)
	);
	return { kind: 'token', user: found.user, token: found.token, scopes };
}
