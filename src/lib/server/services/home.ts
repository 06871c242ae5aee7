import * as runs from '../db/runs.ts';
import * as workflows from '../db/workflows.ts';
import * as workspaces from '../db/workspaces.ts';
import { missingScope } from '../errors.ts';
import { can, hasScope } from '../policy.ts';
import type { Principal } from '../principal.ts';
import type { ServiceContext } from './context.ts';

/** How much the start page shows; the rest is one link away (each workspace's own pages). */
export const homeLimits = { workspaces: 5, runs: 5, approvals: 5, workflows: 6 } as const;

/**
 * The signed-in start page: for each of the principal's workspaces (the current one first) its
 * latest runs, the approvals waiting for a decision and its workflows. Each workspace is
 * authorized on its own; past `homeLimits.workspaces` only names and ids are returned.
 */
export async function homeOverview(ctx: Pick<ServiceContext, 'db'>, principal: Principal) {
	if (!hasScope(principal, 'read')) throw missingScope('read');
	const memberships = await workspaces.listForUser(ctx.db, principal.user.id);
	const currentId = principal.kind === 'session' ? principal.session.activeWorkspaceId : null;
	const readable = memberships
		.filter((workspace) =>
			can(principal, 'workflows.read', { workspaceId: workspace.id, role: workspace.role })
		)
		// Stable sort: the current workspace first, the others keep their order by name.
		.sort((a, b) => Number(b.id === currentId) - Number(a.id === currentId));

	const shown = await Promise.all(
		readable.slice(0, homeLimits.workspaces).map(async (workspace) => {
			const resource = { workspaceId: workspace.id, role: workspace.role };
			const [recentRuns, pending, allWorkflows] = await Promise.all([
				runs.list(ctx.db, workspace.id, { limit: homeLimits.runs }),
				runs.listApprovals(ctx.db, workspace.id, 'pending', homeLimits.approvals + 1),
				workflows.list(ctx.db, workspace.id)
			]);
			return {
				id: workspace.id,
				name: workspace.name,
				role: workspace.role,
				canEdit: can(principal, 'workflows.write', resource),
				canDecide: can(principal, 'approvals.decide', resource),
				recentRuns,
				waitingApprovals: pending.slice(0, homeLimits.approvals),
				moreWaiting: pending.length > homeLimits.approvals,
				workflows: allWorkflows.slice(0, homeLimits.workflows),
				workflowCount: allWorkflows.length
			};
		})
	);
	return {
		currentWorkspaceId: currentId,
		workspaces: shown,
		otherWorkspaces: readable
			.slice(homeLimits.workspaces)
			.map((workspace) => ({ id: workspace.id, name: workspace.name }))
	};
}
