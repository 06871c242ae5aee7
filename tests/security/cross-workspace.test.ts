import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { signUpFirst, signUpInvited } from './support.ts';

/**
 * A member of one workspace probing another: every answer is the 404 a workspace that does not exist
 * gets, byte for byte, so ids cannot be confirmed (never a 403, which would say "it exists").
 */

const app = useAppServer();

let owner: { client: TestClient; userId: string; w1: string; w2: string; w2Invite: string };
let stranger: { client: TestClient; userId: string };

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	const me = (await (await first.client.request('/api/v1/me')).json()) as { id: string };
	const created = await first.client.json('/api/v1/workspaces', 'POST', { name: 'Secret W2' });
	expect(created.status).toBe(201);
	const w2 = ((await created.json()) as { id: string }).id;
	const invite = await first.client.json(`/api/v1/workspaces/${w2}/invites`, 'POST', {
		role: 'editor'
	});
	const w2Invite = ((await invite.json()) as { id: string }).id;
	owner = { client: first.client, userId: me.id, w1: first.workspaceId, w2, w2Invite };
	const member = await signUpInvited(app.url, first.client, first.workspaceId, 'viewer');
	stranger = { client: member.client, userId: member.userId };
});

type Probe = { name: string; method: string; path: (w: string) => string; body?: unknown };

const probes: Probe[] = [
	{ name: 'read the workspace', method: 'GET', path: (w) => `/api/v1/workspaces/${w}` },
	{
		name: 'rename the workspace',
		method: 'PATCH',
		path: (w) => `/api/v1/workspaces/${w}`,
		body: { name: 'Taken over' }
	},
	{ name: 'list members', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/members` },
	{ name: 'list invites', method: 'GET', path: (w) => `/api/v1/workspaces/${w}/invites` },
	{
		name: 'create an invite',
		method: 'POST',
		path: (w) => `/api/v1/workspaces/${w}/invites`,
		body: { role: 'owner' }
	},
	{
		name: 'revoke an invite',
		method: 'DELETE',
		path: (w) => `/api/v1/workspaces/${w}/invites/${owner.w2Invite}`
	},
	{
		name: 'change a member’s role',
		method: 'PATCH',
		path: (w) => `/api/v1/workspaces/${w}/members/${owner.userId}`,
		body: { role: 'viewer' }
	},
	{
		name: 'promote themselves',
		method: 'PATCH',
		path: (w) => `/api/v1/workspaces/${w}/members/${stranger.userId}`,
		body: { role: 'owner' }
	},
	{
		name: 'remove a member',
		method: 'DELETE',
		path: (w) => `/api/v1/workspaces/${w}/members/${owner.userId}`
	}
];

// Ids that are not workspace ids; some pass a loose /^[0-9a-f-]{36}$/ check but are not UUIDs.
const malformedIds = [
	'not-a-uuid',
	'123',
	"1' or '1'='1",
	`${randomUUID()}x`,
	'-'.repeat(36),
	'0'.repeat(36),
	'%00'
];

async function call(client: TestClient, probe: Probe, workspaceId: string) {
	const response =
		probe.body === undefined
			? await client.request(probe.path(workspaceId), {
					method: probe.method,
					headers: { origin: client.origin }
				})
			: await client.json(probe.path(workspaceId), probe.method, probe.body);
	return {
		status: response.status,
		type: response.headers.get('content-type'),
		body: await response.text()
	};
}

describe.each(probes)('a member of another workspace cannot $name', (probe) => {
	it('gets 404 for a workspace that exists but is not theirs, identical to one that does not exist', async () => {
		const theirs = await call(stranger.client, probe, owner.w2);
		const missing = await call(stranger.client, probe, randomUUID());
		expect(theirs.status).toBe(404);
		expect(theirs.type).toBe('application/problem+json');
		expect(theirs).toEqual(missing);
		// Upper-case spelling of the same id: still not theirs.
		expect(await call(stranger.client, probe, owner.w2.toUpperCase())).toEqual(missing);
	});

	it.each(malformedIds)('gets the same 404 for the malformed id %j', async (id) => {
		const missing = await call(stranger.client, probe, randomUUID());
		expect(await call(stranger.client, probe, id)).toEqual(missing);
	});
});

describe('nothing changed', () => {
	it('W2 still has its name, its owner and its invite; the stranger is no member', async () => {
		const workspace = await owner.client.request(`/api/v1/workspaces/${owner.w2}`);
		expect(await workspace.json()).toMatchObject({ name: 'Secret W2', role: 'owner' });
		const members = (await (
			await owner.client.request(`/api/v1/workspaces/${owner.w2}/members`)
		).json()) as { userId: string; role: string }[];
		expect(members).toEqual([expect.objectContaining({ userId: owner.userId, role: 'owner' })]);
		const invites = (await (
			await owner.client.request(`/api/v1/workspaces/${owner.w2}/invites`)
		).json()) as { id: string; role: string }[];
		expect(invites).toEqual([expect.objectContaining({ id: owner.w2Invite, role: 'editor' })]);
		const listed = (await (await stranger.client.request('/api/v1/workspaces')).json()) as {
			id: string;
		}[];
		expect(listed.map((workspace) => workspace.id)).toEqual([owner.w1]);
	});
});

describe('malformed ids inside one’s own workspace', () => {
	it.each(malformedIds)(
		'member, invite and token ids like %j answer 404, never 500',
		async (id) => {
			const client = owner.client;
			const remove = (path: string) =>
				client.request(path, { method: 'DELETE', headers: { origin: client.origin } });
			const responses = {
				changeRole: await client.json(`/api/v1/workspaces/${owner.w1}/members/${id}`, 'PATCH', {
					role: 'viewer'
				}),
				removeMember: await remove(`/api/v1/workspaces/${owner.w1}/members/${id}`),
				revokeInvite: await remove(`/api/v1/workspaces/${owner.w1}/invites/${id}`),
				revokeToken: await remove(`/api/v1/tokens/${id}`)
			};
			const statuses = Object.fromEntries(
				Object.entries(responses).map(([name, response]) => [name, response.status])
			);
			for (const response of Object.values(responses)) await response.body?.cancel();
			expect(statuses).toEqual({
				changeRole: 404,
				removeMember: 404,
				revokeInvite: 404,
				revokeToken: 404
			});
		}
	);
});

describe('pages and form actions of another workspace', () => {
	it('answer 404 to the page, exactly as for a workspace that does not exist', async () => {
		const theirs = await stranger.client.request(`/workspaces/${owner.w2}`, {
			headers: { accept: 'text/html' }
		});
		const missing = await stranger.client.request(`/workspaces/${randomUUID()}`, {
			headers: { accept: 'text/html' }
		});
		expect(theirs.status).toBe(404);
		expect(missing.status).toBe(404);
		const mine = await stranger.client.request(`/workspaces/${owner.w1}`, {
			headers: { accept: 'text/html' }
		});
		expect(mine.status).toBe(200);
	});

	it.each([
		['rename', { name: 'Taken over' }],
		['invite', { role: 'owner', expiresInDays: '7' }],
		['changeRole', { userId: '', role: 'owner' }],
		['remove', { userId: '' }],
		['leave', {}]
	])('refuse the %s action with 404 and change nothing', async (action, fields) => {
		const body = Object.fromEntries(
			Object.entries(fields).map(([key, value]) => [key, value || owner.userId])
		);
		const response = await stranger.client.postForm(`/workspaces/${owner.w2}?/${action}`, body);
		expect(response.status).toBe(404);
		const workspace = await owner.client.request(`/api/v1/workspaces/${owner.w2}`);
		expect(await workspace.json()).toMatchObject({ name: 'Secret W2', role: 'owner' });
	});
});
