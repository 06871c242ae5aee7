import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import * as audit from '../../src/lib/server/db/audit.ts';
import * as sessions from '../../src/lib/server/db/sessions.ts';
import * as users from '../../src/lib/server/db/users.ts';
import type { RequestMeta } from '../../src/lib/server/principal.ts';
import { signIn, updateProfile } from '../../src/lib/server/services/accounts.ts';
import { createCredential, listCredentials } from '../../src/lib/server/services/credentials.ts';
import { listRuns, startWorkflowRun } from '../../src/lib/server/services/runs.ts';
import { createApiToken, listApiTokens } from '../../src/lib/server/services/tokens.ts';
import {
	createWorkflow,
	getWorkflow,
	listVersions,
	saveVersion,
	starterDefinition
} from '../../src/lib/server/services/workflows.ts';
import {
	changeMemberRole,
	createInvite,
	createWorkspace,
	getWorkspace,
	listInvites,
	listMembers,
	removeMember,
	renameWorkspace
} from '../../src/lib/server/services/workspaces.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createTestServices, meta, signUpUser, strongPassword } from '../helpers/services.ts';

/**
 * A change and its audit entry commit together: when the entry cannot be written, the change is not
 * saved either, and a change that fails writes no entry.
 */

const testDb = useTestDatabase();

// Only the audit insert fails: a trigger refuses entries carrying this user agent, whatever wrote them.
const refusedMeta: RequestMeta = { ip: meta.ip, userAgent: 'refuse-this-entry' };

beforeAll(async () => {
	const { db } = testDb.database;
	await db.execute(sql`
		create function refuse_audit_entry() returns trigger language plpgsql as $$
		begin
			if new.user_agent = 'refuse-this-entry' then raise exception 'audit entry refused'; end if;
			return new;
		end $$`);
	await db.execute(sql`
		create trigger refuse_audit_entry before insert on audit_log
		for each row execute function refuse_audit_entry()`);
});

async function entries(fixture: Fixture, action: string): Promise<number> {
	return (await audit.list(fixture.ctx.db, { action, limit: 1000 })).length;
}

/** An owner and an editor in one workspace, with a published workflow. */
async function setUp() {
	const ctx = createTestServices(testDb.database);
	const owner = await signUpUser(ctx, { name: 'Owner' });
	const workspace = await createWorkspace(ctx, owner.principal, { name: 'Team' }, meta);
	const invite = await createInvite(ctx, owner.principal, workspace.id, { role: 'editor' }, meta);
	const editor = await signUpUser(ctx, { name: 'Editor', inviteToken: invite.token });
	const workflow = await createWorkflow(
		ctx,
		owner.principal,
		workspace.id,
		{ name: 'Flow', description: '' },
		meta
	);
	await saveVersion(
		ctx,
		owner.principal,
		workspace.id,
		workflow.id,
		{ definition: starterDefinition, note: 'First', publish: true },
		meta
	);
	return { ctx, owner, editor, workspaceId: workspace.id, workflowId: workflow.id };
}
type Fixture = Awaited<ReturnType<typeof setUp>>;

interface Case {
	name: string;
	action: string;
	change(fixture: Fixture, meta: RequestMeta): Promise<unknown>;
	/** What the change would alter, read back from the database. */
	observe(fixture: Fixture): Promise<unknown>;
}

const cases: Case[] = [
	{
		name: 'renaming a workspace',
		action: 'workspace.renamed',
		change: (f, m) => renameWorkspace(f.ctx, f.owner.principal, f.workspaceId, { name: 'New' }, m),
		observe: async (f) => (await getWorkspace(f.ctx, f.owner.principal, f.workspaceId)).name
	},
	{
		name: 'changing a role',
		action: 'workspace.role_changed',
		change: (f, m) =>
			changeMemberRole(f.ctx, f.owner.principal, f.workspaceId, f.editor.user.id, 'viewer', m),
		observe: async (f) => await listMembers(f.ctx, f.owner.principal, f.workspaceId)
	},
	{
		name: 'removing a member',
		action: 'workspace.member_removed',
		change: (f, m) => removeMember(f.ctx, f.owner.principal, f.workspaceId, f.editor.user.id, m),
		observe: async (f) => await listMembers(f.ctx, f.owner.principal, f.workspaceId)
	},
	{
		name: 'creating an invite',
		action: 'workspace.invite_created',
		change: (f, m) => createInvite(f.ctx, f.owner.principal, f.workspaceId, { role: 'viewer' }, m),
		observe: async (f) => await listInvites(f.ctx, f.owner.principal, f.workspaceId)
	},
	{
		name: 'creating an API token',
		action: 'token.created',
		change: (f, m) =>
			createApiToken(
				f.ctx,
				f.owner.principal,
				{ name: 'ci', scopes: ['read'], expiresInDays: 7 },
				m
			),
		observe: async (f) => await listApiTokens(f.ctx, f.owner.principal)
	},
	{
		name: 'creating a credential',
		action: 'credential.create',
		change: (f, m) =>
			createCredential(
				f.ctx,
				f.owner.principal,
				f.workspaceId,
				{ kind: 'bearer', name: 'Key', token: 'sk-test-0123456789abcdef' },
				m
			),
		observe: async (f) => await listCredentials(f.ctx, f.owner.principal, f.workspaceId)
	},
	{
		name: 'saving and publishing a workflow version',
		action: 'workflow.publish',
		change: (f, m) =>
			saveVersion(
				f.ctx,
				f.owner.principal,
				f.workspaceId,
				f.workflowId,
				{ definition: starterDefinition, note: 'Second', publish: true },
				m
			),
		observe: async (f) => [
			(await listVersions(f.ctx, f.owner.principal, f.workspaceId, f.workflowId)).length,
			(await getWorkflow(f.ctx, f.owner.principal, f.workspaceId, f.workflowId)).published
		]
	},
	{
		name: 'starting a run',
		action: 'run.start',
		change: (f, m) =>
			startWorkflowRun(
				f.ctx,
				f.owner.principal,
				f.workspaceId,
				{ workflowId: f.workflowId, input: {} },
				m
			),
		observe: async (f) => (await listRuns(f.ctx, f.owner.principal, f.workspaceId, {})).runs
	},
	{
		name: 'updating a profile',
		action: 'account.profile_updated',
		change: (f, m) =>
			updateProfile(f.ctx, f.owner.principal, { name: 'Renamed', email: f.owner.email }, m),
		observe: async (f) => (await users.get(f.ctx.db, f.owner.user.id))?.name
	},
	{
		name: 'signing in',
		action: 'auth.sign_in',
		change: (f, m) => signIn(f.ctx, { email: f.owner.email, password: strongPassword }, m),
		observe: async (f) => (await sessions.listForUser(f.ctx.db, f.owner.user.id)).length
	}
];

describe('an audited change whose audit entry cannot be written', () => {
	it.each(cases)('is not saved: $name', async ({ action, change, observe }) => {
		const fixture = await setUp();
		const before = await observe(fixture);
		const recorded = await entries(fixture, action);

		await expect(change(fixture, refusedMeta)).rejects.toThrow();
		expect(await observe(fixture)).toEqual(before);
		expect(await entries(fixture, action)).toBe(recorded);

		// With an entry that can be stored, the same change goes through and is recorded once.
		await change(fixture, meta);
		expect(await observe(fixture)).not.toEqual(before);
		expect(await entries(fixture, action)).toBe(recorded + 1);
	});

	it('is not saved when the refused value is its own detail (a rename to a lone surrogate)', async () => {
		const fixture = await setUp();
		const { ctx, owner, workspaceId } = fixture;
		const recorded = await entries(fixture, 'workspace.renamed');
		// PostgreSQL stores the text column (the surrogate becomes U+FFFD on the way) but refuses the
		// same string in the entry's jsonb details.
		await expect(
			renameWorkspace(ctx, owner.principal, workspaceId, { name: 'Bad \uD800 name' }, meta)
		).rejects.toThrow();
		expect((await getWorkspace(ctx, owner.principal, workspaceId)).name).toBe('Team');
		expect(await entries(fixture, 'workspace.renamed')).toBe(recorded);
	});
});

describe('an audited change that fails', () => {
	it('writes no audit entry', async () => {
		const fixture = await setUp();
		const { ctx, owner, workspaceId } = fixture;
		const recorded = await entries(fixture, 'workspace.role_changed');
		// The last owner cannot step down: refused inside the transaction, after the lock.
		await expect(
			changeMemberRole(ctx, owner.principal, workspaceId, owner.user.id, 'admin', meta)
		).rejects.toMatchObject({ type: 'conflict' });
		expect(await entries(fixture, 'workspace.role_changed')).toBe(recorded);
	});
});
