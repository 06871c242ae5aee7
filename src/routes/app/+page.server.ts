import { requirePrincipal } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { homeOverview } from '$lib/server/services/home';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const overview = await orHttpError(homeOverview(event.locals.runtime.services, principal));
	return {
		otherWorkspaces: overview.otherWorkspaces,
		workspaces: overview.workspaces.map((workspace) => ({
			id: workspace.id,
			name: workspace.name,
			role: workspace.role,
			canEdit: workspace.canEdit,
			canDecide: workspace.canDecide,
			recentRuns: workspace.recentRuns.map((run) => ({
				id: run.id,
				status: run.status,
				workflowId: run.workflowId,
				workflowName: run.workflowName,
				trigger: run.trigger,
				createdAt: run.createdAt
			})),
			waitingApprovals: workspace.waitingApprovals.map((approval) => ({
				id: approval.id,
				title: approval.title,
				workflowName: approval.workflowName,
				runId: approval.runId,
				createdAt: approval.createdAt,
				deadlineAt: approval.deadlineAt
			})),
			moreWaiting: workspace.moreWaiting,
			workflows: workspace.workflows.map((workflow) => ({
				id: workflow.id,
				name: workflow.name,
				description: workflow.description,
				publishedNumber: workflow.publishedNumber,
				latestVersion: workflow.latestVersion
			})),
			workflowCount: workspace.workflowCount
		}))
	};
};
