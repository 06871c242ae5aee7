import { describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import { signUpViaForm } from '../helpers/http-client.ts';
import { inviteToken, signUpFirst, signUpInvited, uniqueEmail } from '../security/support.ts';

/** Invites through the production build: who issued them, and what a demotion does to them. */

const app = useAppServer();

describe('an admin’s invite', () => {
	it('is listed with its issuer, and stops working when the admin is demoted', async () => {
		const owner = await signUpFirst(app.url);
		const workspace = owner.workspaceId;
		const admin = await signUpInvited(app.url, owner.client, workspace, 'admin');
		const token = await inviteToken(admin.client, workspace, 'admin');

		const listed = await owner.client.request(`/api/v1/workspaces/${workspace}/invites`);
		expect(listed.status).toBe(200);
		expect(await listed.json()).toEqual([
			expect.objectContaining({
				role: 'admin',
				usable: true,
				issuedBy: { userId: admin.userId, name: expect.any(String), email: admin.email }
			})
		]);
		const page = await (await owner.client.request(`/workspaces/${workspace}`)).text();
		expect(page.slice(page.indexOf('Open invites'))).toContain(admin.email);

		const demoted = await owner.client.json(
			`/api/v1/workspaces/${workspace}/members/${admin.userId}`,
			'PATCH',
			{ role: 'editor' }
		);
		expect(demoted.status).toBe(200);

		const after = await owner.client.request(`/api/v1/workspaces/${workspace}/invites`);
		expect(await after.json()).toEqual([]);
		const landing = await (await fetch(new URL(`/invite/${token}`, app.url))).text();
		expect(landing).not.toContain('You are invited');
		const { client: newcomer, response } = await signUpViaForm(app.url, uniqueEmail(), {
			invite: token
		});
		expect(response.status).toBe(400);
		expect((await newcomer.request('/api/v1/me')).status).toBe(401);
	});
});
