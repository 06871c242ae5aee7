import { describe, expect, it } from 'vitest';
import * as users from '../../src/lib/server/db/users.ts';
import { listAudit } from '../../src/lib/server/services/audit.ts';
import type { ApiScope, Principal } from '../../src/lib/server/principal.ts';
import {
	authenticateApiToken,
	createApiToken,
	listApiTokens,
	revokeApiToken
} from '../../src/lib/server/services/tokens.ts';
import {
	changeMemberRole,
	createInvite,
	createWorkspace,
	getWorkspace,
	listMembers,
	listMyWorkspaces,
	removeMember,
	renameWorkspace
} from '../../src/lib/server/services/workspaces.ts';
import { useAppServer } from '../helpers/app-server.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { signUpViaForm } from '../helpers/http-client.ts';
import { createTestServices, meta, signUpUser } from '../helpers/services.ts';
import { expectProblem, failure, uniqueEmail, unissuedToken } from './support.ts';

/**
 * Personal access tokens. Tokens are minted in a browser only, so most of this runs at the service
 * level (what the API routes call); the HTTP part checks how the server answers bad bearer tokens.
 */

const testDb = useTestDatabase();
const app = useAppServer();

const day = 24 * 60 * 60 * 1000;

function services() {
	return createTestServices(testDb.database);
}
type Ctx = ReturnType<typeof services>;

async function tokenFor(
	ctx: Ctx,
	owner: Principal,
	scopes: ApiScope[],
	expiresInDays = 30
): Promise<{ secret: string; id: string; principal: Principal }> {
	const created = await createApiToken(ctx, owner, { name: 'ci', scopes, expiresInDays }, meta);
	const principal = await authenticateApiToken(ctx, created.token);
	if (!principal) throw new Error('a fresh token does not authenticate');
	return { secret: created.token, id: created.id, principal };
}

/** The instance admin, who owns a workspace, plus a second member of it with the given role. */
async function workspaceWithMember(ctx: Ctx, role: 'viewer' | 'editor' | 'admin' | 'owner') {
	const owner = await signUpUser(ctx);
	const [workspace] = await listMyWorkspaces(ctx, owner.principal);
	if (!workspace) throw new Error('no workspace');
	const invite = await createInvite(ctx, owner.principal, workspace.id, { role }, meta);
	const member = await signUpUser(ctx, { inviteToken: invite.token });
	return { owner, member, workspaceId: workspace.id };
}

describe('scopes', () => {
	it('a read-only token reads but cannot create, rename, invite or manage members', async () => {
		const ctx = services();
		const { owner, member, workspaceId } = await workspaceWithMember(ctx, 'viewer');
		const { principal } = await tokenFor(ctx, owner.principal, ['read']);

		expect(await getWorkspace(ctx, principal, workspaceId)).toMatchObject({ role: 'owner' });
		expect(await listMembers(ctx, principal, workspaceId)).toHaveLength(2);
		const refusals = [
			() => createWorkspace(ctx, principal, { name: 'Nope' }, meta),
			() => renameWorkspace(ctx, principal, workspaceId, { name: 'Nope' }, meta),
			() => createInvite(ctx, principal, workspaceId, { role: 'viewer' }, meta),
			() => changeMemberRole(ctx, principal, workspaceId, member.user.id, 'editor', meta),
			() => removeMember(ctx, principal, workspaceId, member.user.id, meta),
			() =>
				revokeApiToken(ctx, principal, principal.kind === 'token' ? principal.token.id : '', meta)
		];
		for (const refusal of refusals)
			expect(await failure(refusal())).toMatchObject({ type: 'forbidden', status: 403 });
		expect(await listMyWorkspaces(ctx, owner.principal)).toHaveLength(1);
		expect(
			(await listMembers(ctx, owner.principal, workspaceId)).map((m) => m.role).sort()
		).toEqual(['owner', 'viewer']);
	});

	it('a write token cannot do admin things, even for an owner', async () => {
		const ctx = services();
		const { owner, member, workspaceId } = await workspaceWithMember(ctx, 'viewer');
		const { principal } = await tokenFor(ctx, owner.principal, ['read', 'write', 'run']);
		expect(await createWorkspace(ctx, principal, { name: 'Allowed' }, meta)).toMatchObject({
			role: 'owner'
		});
		for (const refusal of [
			() => createInvite(ctx, principal, workspaceId, { role: 'viewer' }, meta),
			() => changeMemberRole(ctx, principal, workspaceId, member.user.id, 'editor', meta),
			() => renameWorkspace(ctx, principal, workspaceId, { name: 'Renamed' }, meta)
		])
			expect((await failure(refusal())).type).toBe('forbidden');
	});

	it('an instance admin’s token needs the admin scope for instance-wide reads', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const asAdmin = (principal: Principal): Principal => ({
			...principal,
			user: { ...principal.user, isInstanceAdmin: true }
		});
		const narrow = await tokenFor(ctx, owner.principal, ['read', 'write', 'run']);
		const wide = await tokenFor(ctx, owner.principal, ['read', 'admin']);
		expect((await failure(listAudit(ctx, asAdmin(narrow.principal), {}))).type).toBe('forbidden');
		expect(await listAudit(ctx, asAdmin(wide.principal), { limit: 1 })).toHaveLength(1);
	});

	it('an admin-scoped token cannot exceed its owner’s role (a viewer cannot invite)', async () => {
		const ctx = services();
		const { owner, member, workspaceId } = await workspaceWithMember(ctx, 'viewer');
		const { principal } = await tokenFor(ctx, member.principal, ['read', 'write', 'run', 'admin']);
		expect(principal.kind === 'token' && principal.scopes).toEqual([
			'read',
			'write',
			'run',
			'admin'
		]);
		for (const refusal of [
			() => createInvite(ctx, principal, workspaceId, { role: 'viewer' }, meta),
			() => changeMemberRole(ctx, principal, workspaceId, owner.user.id, 'viewer', meta),
			() => removeMember(ctx, principal, workspaceId, owner.user.id, meta),
			() => renameWorkspace(ctx, principal, workspaceId, { name: 'Mine now' }, meta),
			// Not an instance admin: the admin scope does not make one.
			() => listAudit(ctx, principal, {})
		])
			expect((await failure(refusal())).type).toBe('forbidden');
	});

	it('unknown scopes are dropped, and a token needs at least one real scope', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { principal } = await tokenFor(ctx, owner.principal, [
			'read',
			'superuser' as ApiScope,
			'*' as ApiScope
		]);
		expect(principal.kind === 'token' && principal.scopes).toEqual(['read']);
		expect(
			await failure(
				createApiToken(
					ctx,
					owner.principal,
					{ name: 'x', scopes: ['root' as ApiScope], expiresInDays: 1 },
					meta
				)
			)
		).toMatchObject({ type: 'invalid' });
	});
});

describe('the owner’s standing is read live', () => {
	it('demoting the owner narrows the token at once; removing them cuts it off', async () => {
		const ctx = services();
		const { owner: admin, member: coOwner, workspaceId } = await workspaceWithMember(ctx, 'owner');
		const { secret } = await tokenFor(ctx, coOwner.principal, ['read', 'write', 'run', 'admin']);
		const live = async () => {
			const principal = await authenticateApiToken(ctx, secret);
			if (!principal) throw new Error('token stopped working');
			return principal;
		};
		const invite = await createInvite(ctx, await live(), workspaceId, { role: 'editor' }, meta);
		expect(invite.role).toBe('editor');

		await changeMemberRole(ctx, admin.principal, workspaceId, coOwner.user.id, 'viewer', meta);
		expect(
			await failure(createInvite(ctx, await live(), workspaceId, { role: 'viewer' }, meta))
		).toMatchObject({ type: 'forbidden' });
		expect(await getWorkspace(ctx, await live(), workspaceId)).toMatchObject({ role: 'viewer' });

		await removeMember(ctx, admin.principal, workspaceId, coOwner.user.id, meta);
		expect(await failure(getWorkspace(ctx, await live(), workspaceId))).toMatchObject({
			type: 'not-found'
		});
	});

	it('a disabled account’s tokens stop working', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { secret } = await tokenFor(ctx, owner.principal, ['read']);
		await users.update(ctx.db, owner.user.id, { status: 'disabled' });
		expect(await authenticateApiToken(ctx, secret)).toBeNull();
	});
});

describe('lifetime', () => {
	it('a revoked token stops at once', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { secret, id } = await tokenFor(ctx, owner.principal, ['read', 'write']);
		await revokeApiToken(ctx, owner.principal, id, meta);
		expect(await authenticateApiToken(ctx, secret)).toBeNull();
		expect(await listApiTokens(ctx, owner.principal)).toEqual([
			expect.objectContaining({ id, state: 'revoked' })
		]);
	});

	it('a token can revoke itself (write scope) and is dead for the next call', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { secret, id, principal } = await tokenFor(ctx, owner.principal, ['read', 'write']);
		await revokeApiToken(ctx, principal, id, meta);
		expect(await authenticateApiToken(ctx, secret)).toBeNull();
	});

	it('an expired token stops at its expiry, not a moment later', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { secret } = await tokenFor(ctx, owner.principal, ['read'], 2);
		ctx.clock.advance(2 * day - 1000);
		expect(await authenticateApiToken(ctx, secret)).not.toBeNull();
		ctx.clock.advance(1000);
		expect(await authenticateApiToken(ctx, secret)).toBeNull();
	});

	it('lifetimes are capped: a request for 100 years gets at most 366 days', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const created = await createApiToken(
			ctx,
			owner.principal,
			{ name: 'forever', scopes: ['read'], expiresInDays: 36_500 },
			meta
		);
		expect(created.expiresAt.getTime() - ctx.now().getTime()).toBeLessThanOrEqual(366 * day);
	});
});

describe('tokens and other principals', () => {
	it('a token cannot create tokens, whatever its scopes', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { principal } = await tokenFor(ctx, owner.principal, ['read', 'write', 'run', 'admin']);
		expect(
			await failure(
				createApiToken(ctx, principal, { name: 'child', scopes: ['read'], expiresInDays: 1 }, meta)
			)
		).toMatchObject({ type: 'forbidden' });
		expect(await listApiTokens(ctx, owner.principal)).toHaveLength(1);
	});

	it('nobody can see or revoke another account’s tokens', async () => {
		const ctx = services();
		const alice = await signUpUser(ctx);
		const bob = await signUpUser(ctx);
		const { secret, id } = await tokenFor(ctx, alice.principal, ['read']);
		expect(await listApiTokens(ctx, bob.principal)).toEqual([]);
		expect(await failure(revokeApiToken(ctx, bob.principal, id, meta))).toMatchObject({
			type: 'not-found'
		});
		expect(await authenticateApiToken(ctx, secret)).not.toBeNull();
	});

	it('lists tokens without their secrets', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { secret } = await tokenFor(ctx, owner.principal, ['read']);
		const listed = JSON.stringify(await listApiTokens(ctx, owner.principal));
		expect(listed).not.toContain(secret);
		expect(listed).not.toContain(secret.slice(4, 20));
	});

	it('only exact, well-formed token strings authenticate', async () => {
		const ctx = services();
		const owner = await signUpUser(ctx);
		const { secret } = await tokenFor(ctx, owner.principal, ['read']);
		for (const variant of [
			secret.toUpperCase(),
			` ${secret}`,
			`${secret}x`,
			secret.slice(0, -1),
			secret.replace('awe_', 'AWE_'),
			`awe_${unissuedToken(39)}`,
			''
		])
			expect(await authenticateApiToken(ctx, variant)).toBeNull();
	});
});

describe('bearer tokens over HTTP', () => {
	it('an unknown but well-formed token gets 401 with WWW-Authenticate: Bearer', async () => {
		const response = await fetch(`${app.url}/api/v1/me`, {
			headers: { authorization: `Bearer awe_${unissuedToken(39)}` }
		});
		expect(response.headers.get('www-authenticate')).toBe('Bearer');
		const body = await expectProblem(response, 401, 'unauthorized');
		expect(body.title).toMatch(/invalid, expired or revoked/);
	});

	it.each(['Bearer', 'Bearer ', 'Bearer not-a-token', 'Basic YWRtaW46YWRtaW4=', 'awe_x'])(
		'a malformed Authorization header (%j) gets 401',
		async (authorization) => {
			const response = await fetch(`${app.url}/api/v1/workspaces`, { headers: { authorization } });
			await expectProblem(response, 401, 'unauthorized');
		}
	);

	it('a rejected bearer token never falls back to the session cookie', async () => {
		const { client } = await signUpViaForm(app.url, uniqueEmail('bearer'));
		const withCookie = await client.request('/api/v1/me');
		expect(withCookie.status).toBe(200);
		await withCookie.body?.cancel();
		const response = await client.request('/api/v1/me', {
			headers: { authorization: `Bearer awe_${unissuedToken(39)}` }
		});
		await expectProblem(response, 401, 'unauthorized');
	});
});
