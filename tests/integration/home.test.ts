import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/lib/server/errors.ts';
import type { Principal } from '../../src/lib/server/principal.ts';
import { homeLimits, homeOverview } from '../../src/lib/server/services/home.ts';
import { authenticateApiToken, createApiToken } from '../../src/lib/server/services/tokens.ts';
import { createWorkflow } from '../../src/lib/server/services/workflows.ts';
import {
	createInvite,
	createWorkspace,
	switchWorkspace
} from '../../src/lib/server/services/workspaces.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta, principalFor, signUpUser } from '../helpers/services.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;

const asksFirst = {
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'review', kind: 'approval', config: { title: 'Let {{ input.name }} in?' } },
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'review' },
		{ from: 'review', to: 'done', branch: 'approved' }
	]
};

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	await engine.startWorker();
});
afterAll(() => engine.stopWorkers());

async function rejection(work: Promise<unknown>): Promise<string> {
	try {
		await work;
		return 'ok';
	} catch (error) {
		if (error instanceof ServiceError) return error.type;
		throw error;
	}
}

async function tokenFor(principal: Principal, scopes: ('read' | 'write' | 'run')[]) {
	const { token } = await createApiToken(
		engine.ctx,
		principal,
		{ name: `home ${scopes.join(' ')}`, scopes, expiresInDays: 7 },
		meta
	);
	return (await authenticateApiToken(engine.ctx, token)) as Principal;
}

describe('the start page overview', () => {
	it("shows a workspace's recent runs, waiting approvals and workflows, and nothing of others'", async () => {
		const workflowId = await engine.publish(asksFirst, 'Doorman');
		const run = await engine.start(workflowId, { name: 'Ada' });
		await engine.waitFor(run.id, ['waiting']);

		// Someone else's workspace, with a workflow of its own, stays out of the owner's page.
		const stranger = await signUpUser(engine.ctx, { name: 'Stranger' });
		const [strangersOwn] = (await homeOverview(engine.ctx, stranger.principal)).workspaces;
		if (!strangersOwn) throw new Error('the stranger has no workspace');
		await createWorkflow(
			engine.ctx,
			stranger.principal,
			strangersOwn.id,
			{ name: 'Not yours', description: '' },
			meta
		);

		const overview = await homeOverview(engine.ctx, engine.owner.principal);
		expect(overview.workspaces.map((workspace) => workspace.id)).toEqual([engine.workspaceId]);
		const [home] = overview.workspaces;
		expect(home).toMatchObject({ role: 'owner', canEdit: true, canDecide: true });
		expect(
			home?.recentRuns.map((recent) => [recent.id, recent.status, recent.workflowName])
		).toEqual([[run.id, 'waiting', 'Doorman']]);
		expect(home?.waitingApprovals.map((approval) => [approval.title, approval.runId])).toEqual([
			['Let Ada in?', run.id]
		]);
		expect(home?.moreWaiting).toBe(false);
		expect(home?.workflows.map((workflow) => [workflow.name, workflow.publishedNumber])).toEqual([
			['Doorman', 2]
		]);
		expect(home?.workflowCount).toBe(1);
		expect(JSON.stringify(overview)).not.toContain('Not yours');

		const strangers = await homeOverview(engine.ctx, stranger.principal);
		expect(strangers.workspaces.map((workspace) => workspace.id)).toEqual([strangersOwn.id]);
		expect(JSON.stringify(strangers)).not.toContain('Doorman');
	});

	it("answers for each workspace with the principal's role there: a viewer may not edit or decide", async () => {
		const invite = await createInvite(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			{ role: 'viewer' },
			meta
		);
		const viewer = await signUpUser(engine.ctx, { name: 'Viewer', inviteToken: invite.token });
		const { workspaces } = await homeOverview(engine.ctx, viewer.principal);
		const shared = workspaces.find((workspace) => workspace.id === engine.workspaceId);
		expect(shared).toMatchObject({ role: 'viewer', canEdit: false, canDecide: false });
		expect(shared?.waitingApprovals.length).toBeGreaterThan(0);
	});

	it('puts the current workspace first, and only names those past the limit', async () => {
		const busy = await signUpUser(engine.ctx, { name: 'Busy' });
		const created = [];
		for (let index = 0; index < homeLimits.workspaces + 1; index += 1) {
			created.push(
				await createWorkspace(engine.ctx, busy.principal, { name: `Team ${index}` }, meta)
			);
		}
		const last = created.at(-1);
		if (!last) throw new Error('no workspace made');
		await switchWorkspace(engine.ctx, busy.principal, last.id);
		// The session principal reads its current workspace from the session row.
		const principal = await principalFor(engine.ctx, busy.token);

		const overview = await homeOverview(engine.ctx, principal);
		expect(overview.currentWorkspaceId).toBe(last.id);
		expect(overview.workspaces).toHaveLength(homeLimits.workspaces);
		expect(overview.workspaces[0]?.id).toBe(last.id);
		// Their personal workspace and the ones made here: two more than the page details.
		expect(overview.otherWorkspaces).toHaveLength(2);
		const listed = [...overview.workspaces, ...overview.otherWorkspaces].map((w) => w.id);
		expect(new Set(listed).size).toBe(homeLimits.workspaces + 2);
		expect(overview.otherWorkspaces[0]).not.toHaveProperty('recentRuns');
	});

	it('counts past its limits: more approvals waiting, more workflows', async () => {
		const workflowId = await engine.publish(asksFirst, 'Busy doorman');
		const started = [];
		for (let index = 0; index <= homeLimits.approvals; index += 1)
			started.push(await engine.start(workflowId, { name: `Guest ${index}` }));
		for (const run of started) await engine.waitFor(run.id, ['waiting']);
		for (let index = 0; index < homeLimits.workflows; index += 1)
			await engine.publish(asksFirst, `Spare ${index}`);

		const [home] = (await homeOverview(engine.ctx, engine.owner.principal)).workspaces;
		expect(home?.waitingApprovals).toHaveLength(homeLimits.approvals);
		expect(home?.moreWaiting).toBe(true);
		expect(home?.recentRuns).toHaveLength(homeLimits.runs);
		expect(home?.workflows).toHaveLength(homeLimits.workflows);
		expect(home?.workflowCount).toBeGreaterThan(homeLimits.workflows);
	});

	it('needs the read scope from a token; a read token sees the same, with no current workspace', async () => {
		const writeOnly = await tokenFor(engine.owner.principal, ['write']);
		expect(await rejection(homeOverview(engine.ctx, writeOnly))).toBe('forbidden');

		const reader = await tokenFor(engine.owner.principal, ['read']);
		const overview = await homeOverview(engine.ctx, reader);
		expect(overview.currentWorkspaceId).toBeNull();
		expect(overview.workspaces.map((workspace) => workspace.id)).toEqual([engine.workspaceId]);
		// Scopes narrow what the page offers: reading alone neither edits nor decides.
		expect(overview.workspaces[0]).toMatchObject({ canEdit: false, canDecide: false });
	});

	it('shows nothing of any workspace to an account that is no longer active', async () => {
		const principal = engine.owner.principal;
		const disabled = { ...principal, user: { ...principal.user, status: 'disabled' as const } };
		const overview = await homeOverview(engine.ctx, disabled);
		expect(overview.workspaces).toEqual([]);
		expect(overview.otherWorkspaces).toEqual([]);
	});
});
