import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { TestClient, testPassword } from '../helpers/http-client.ts';
import { expectProblem, inviteToken, signUpFirst, signUpInvited, uniqueEmail } from './support.ts';

/** Extra fields in a request body or form are dropped, never written. */

const app = useAppServer();

type Workspace = { id: string; name: string; slug: string; role: string };
type Member = { userId: string; role: string };

let admin: { client: TestClient; userId: string; workspaceId: string };

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	const me = (await (await first.client.request('/api/v1/me')).json()) as { id: string };
	admin = { client: first.client, userId: me.id, workspaceId: first.workspaceId };
});

async function members(client: TestClient, workspaceId: string): Promise<Member[]> {
	const response = await client.request(`/api/v1/workspaces/${workspaceId}/members`);
	expect(response.status).toBe(200);
	return (await response.json()) as Member[];
}

describe('POST /api/v1/workspaces', () => {
	it('ignores id, role, ownerId, workspaceId and slug in the body', async () => {
		const viewer = await signUpInvited(app.url, admin.client, admin.workspaceId, 'viewer');
		const response = await viewer.client.json('/api/v1/workspaces', 'POST', {
			name: 'Mine',
			// An existing workspace's id: a takeover if it were used.
			id: admin.workspaceId,
			workspaceId: admin.workspaceId,
			role: 'viewer',
			ownerId: admin.userId,
			userId: admin.userId,
			slug: 'chosen-slug',
			createdAt: '2000-01-01T00:00:00Z'
		});
		expect(response.status).toBe(201);
		const created = (await response.json()) as Workspace & { createdAt: string };
		expect(created.id).not.toBe(admin.workspaceId);
		expect(created.slug).not.toBe('chosen-slug');
		expect(created.name).toBe('Mine');
		expect(created.role).toBe('owner');
		expect(created.createdAt).not.toMatch(/^2000/);

		// The creator (not the named owner) owns it, alone.
		expect(await members(viewer.client, created.id)).toEqual([
			expect.objectContaining({ userId: viewer.userId, role: 'owner' })
		]);
		// The admin's workspace is untouched and the viewer is still only a viewer there.
		const original = await admin.client.request(`/api/v1/workspaces/${admin.workspaceId}`);
		expect(await original.json()).toMatchObject({ id: admin.workspaceId, role: 'owner' });
		expect(
			(await members(admin.client, admin.workspaceId)).find(
				(member) => member.userId === viewer.userId
			)
		).toMatchObject({ role: 'viewer' });
		// And the admin did not become a member of the new one.
		const adminsWorkspaces = (await (await admin.client.request('/api/v1/workspaces')).json()) as {
			id: string;
		}[];
		expect(adminsWorkspaces.map((workspace) => workspace.id)).not.toContain(created.id);
	});

	it('PATCH of a workspace changes only its name', async () => {
		const before = (await (
			await admin.client.request(`/api/v1/workspaces/${admin.workspaceId}`)
		).json()) as Workspace;
		const response = await admin.client.json(`/api/v1/workspaces/${admin.workspaceId}`, 'PATCH', {
			name: 'Renamed',
			id: crypto.randomUUID(),
			slug: 'other-slug',
			role: 'viewer'
		});
		expect(response.status).toBe(200);
		const after = (await (
			await admin.client.request(`/api/v1/workspaces/${admin.workspaceId}`)
		).json()) as Workspace;
		expect(after).toMatchObject({ ...before, name: 'Renamed', role: 'owner' });
	});
});

describe('sign-up form', () => {
	it('isInstanceAdmin, status and role fields grant nothing: an invited viewer stays a viewer', async () => {
		const invite = await inviteToken(admin.client, admin.workspaceId, 'viewer');
		const client = new TestClient(app.url);
		const email = uniqueEmail('escalate');
		const response = await client.postForm('/signup', {
			name: 'Escalator',
			email,
			password: testPassword,
			invite,
			isInstanceAdmin: 'true',
			is_instance_admin: 'true',
			status: 'active',
			role: 'owner',
			workspaceId: admin.workspaceId,
			totpEnabledAt: '2020-01-01'
		});
		expect(response.status).toBe(303);
		const me = await client.request('/api/v1/me');
		expect(await me.json()).toMatchObject({ email, isInstanceAdmin: false });
		const workspaces = (await (await client.request('/api/v1/workspaces')).json()) as Workspace[];
		expect(workspaces).toEqual([
			expect.objectContaining({ id: admin.workspaceId, role: 'viewer' })
		]);
		await expectProblem(await client.request('/api/v1/audit'), 403, 'forbidden');
		// And a viewer cannot invite (what an owner could).
		const invited = await client.json(`/api/v1/workspaces/${admin.workspaceId}/invites`, 'POST', {
			role: 'viewer'
		});
		await expectProblem(invited, 403, 'forbidden');
	});

	it('a second account without an invite does not slip in by naming an invite-free mode', async () => {
		const client = new TestClient(app.url);
		const response = await client.postForm('/signup', {
			name: 'Walk-in',
			email: uniqueEmail('walkin'),
			password: testPassword,
			signupMode: 'open',
			mode: 'open',
			invite: ''
		});
		expect(response.status).toBe(403);
		expect(client.cookies.size).toBe(0);
		await response.body?.cancel();
	});
});

describe('PATCH /api/v1/workspaces/{id}/members/{userId}', () => {
	it('changes only the role of the member in the path', async () => {
		const target = await signUpInvited(app.url, admin.client, admin.workspaceId, 'viewer');
		const bystander = await signUpInvited(app.url, admin.client, admin.workspaceId, 'viewer');
		const other = await admin.client.json('/api/v1/workspaces', 'POST', { name: 'Other' });
		const otherId = ((await other.json()) as { id: string }).id;

		const response = await admin.client.json(
			`/api/v1/workspaces/${admin.workspaceId}/members/${target.userId}`,
			'PATCH',
			{
				role: 'editor',
				userId: bystander.userId,
				workspaceId: otherId,
				isInstanceAdmin: true,
				status: 'disabled'
			}
		);
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ userId: target.userId, role: 'editor' });

		const roles = Object.fromEntries(
			(await members(admin.client, admin.workspaceId)).map((member) => [member.userId, member.role])
		);
		expect(roles[target.userId]).toBe('editor');
		expect(roles[bystander.userId]).toBe('viewer');
		expect(roles[admin.userId]).toBe('owner');
		expect(await members(admin.client, otherId)).toEqual([
			expect.objectContaining({ userId: admin.userId, role: 'owner' })
		]);
		const me = await target.client.request('/api/v1/me');
		expect(me.status).toBe(200);
		expect(await me.json()).toMatchObject({ isInstanceAdmin: false });
	});

	it('a role outside the list is refused, not stored', async () => {
		const target = await signUpInvited(app.url, admin.client, admin.workspaceId, 'viewer');
		for (const role of ['superadmin', 'OWNER', '', null, ['owner']]) {
			const response = await admin.client.json(
				`/api/v1/workspaces/${admin.workspaceId}/members/${target.userId}`,
				'PATCH',
				{ role }
			);
			await expectProblem(response, 400);
		}
		const roles = await members(admin.client, admin.workspaceId);
		expect(roles.find((member) => member.userId === target.userId)?.role).toBe('viewer');
	});
});

describe('model providers and agents', () => {
	const scripted = { kind: 'scripted', name: 'Fixed', defaultModel: 'm', script: [{ text: 'x' }] };

	it('refuse bodies naming fields they do not take, writing nothing', async () => {
		const other = await admin.client.json('/api/v1/workspaces', 'POST', { name: 'Other W' });
		const otherId = ((await other.json()) as { id: string }).id;
		const base = `/api/v1/workspaces/${admin.workspaceId}`;
		for (const extra of [
			{ workspaceId: otherId },
			{ id: crypto.randomUUID() },
			{ createdBy: crypto.randomUUID() },
			{ createdAt: '2000-01-01T00:00:00Z' }
		]) {
			const refused = await admin.client.json(`${base}/providers`, 'POST', {
				...scripted,
				...extra
			});
			const problem = (await expectProblem(refused, 400, 'invalid')) as unknown as {
				errors: Record<string, string>;
			};
			expect(Object.keys(problem.errors)).toEqual(Object.keys(extra));
		}
		const created = await admin.client.json(`${base}/providers`, 'POST', scripted);
		expect(created.status).toBe(201);
		const provider = (await created.json()) as { id: string };
		// The kind, and the workspace, of a provider never change.
		for (const patch of [{ kind: 'openai' }, { workspaceId: otherId }]) {
			const refused = await admin.client.json(`${base}/providers/${provider.id}`, 'PATCH', patch);
			await expectProblem(refused, 400, 'invalid');
		}
		const agentBody = { name: 'Agent', providerId: provider.id };
		for (const extra of [{ workspaceId: otherId }, { id: crypto.randomUUID() }]) {
			const refused = await admin.client.json(`${base}/agents`, 'POST', { ...agentBody, ...extra });
			await expectProblem(refused, 400, 'invalid');
		}
		const budget = await admin.client.json(`${base}/budget`, 'PUT', {
			monthlyCostLimitUsd: 5,
			monthlyTokenLimit: null,
			workspaceId: otherId
		});
		await expectProblem(budget, 400, 'invalid');
		for (const list of ['providers', 'agents']) {
			const response = await admin.client.request(`/api/v1/workspaces/${otherId}/${list}`);
			expect(await response.json()).toEqual([]);
		}
		const agents = await admin.client.request(`${base}/agents`);
		expect(await agents.json()).toEqual([]);
		const otherBudget = await admin.client.request(`/api/v1/workspaces/${otherId}/budget`);
		expect(await otherBudget.json()).toMatchObject({ monthlyCostLimitUsd: null });
	});

	it('drop form fields the pages do not have: a provider lands in the workspace of the address', async () => {
		const other = await admin.client.json('/api/v1/workspaces', 'POST', { name: 'Form other' });
		const otherId = ((await other.json()) as { id: string }).id;
		const response = await admin.client.postForm(
			`/workspaces/${admin.workspaceId}/providers?kind=scripted&/create`,
			{
				intent: 'create',
				kind: 'scripted',
				name: 'Form fixed',
				defaultModel: 'm',
				script: '[{"text": "x"}]',
				workspaceId: otherId,
				id: crypto.randomUUID(),
				createdBy: crypto.randomUUID()
			}
		);
		expect(response.status).toBe(200);
		await response.body?.cancel();
		const mine = await admin.client.request(`/api/v1/workspaces/${admin.workspaceId}/providers`);
		expect(await mine.json()).toEqual(
			expect.arrayContaining([expect.objectContaining({ name: 'Form fixed' })])
		);
		const theirs = await admin.client.request(`/api/v1/workspaces/${otherId}/providers`);
		expect(await theirs.json()).toEqual([]);
	});
});
