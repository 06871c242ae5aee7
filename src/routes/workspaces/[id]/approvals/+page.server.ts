import { z } from 'zod';
import { runFormAction, requirePrincipal } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import { decideApproval, listApprovals } from '$lib/server/services/runs';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

const views = ['pending', 'decided', 'all'] as const;

const decisionSchema = z.object({
	approvalId: z.string({ error: 'Required.' }).min(1, 'Required.').max(64),
	comment: z.string().trim().max(2_000, 'Use at most 2,000 characters.').default('')
});

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const view = views.find((name) => name === event.url.searchParams.get('show')) ?? 'pending';
	const [workspace, pending, everything] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listApprovals(services, principal, id, 'pending')),
		view === 'pending' ? null : orHttpError(listApprovals(services, principal, id, null))
	]);
	const decided = (everything ?? []).filter((approval) => approval.status !== 'pending');
	// Pending first, each group newest first (as listed).
	const shown =
		view === 'pending' ? pending : view === 'decided' ? decided : [...pending, ...decided];
	return {
		workspace: { id: workspace.id, name: workspace.name },
		canDecide: roleAtLeast(workspace.role, 'editor'),
		view,
		pendingCount: pending.length,
		approvals: shown.map((approval) => ({
			id: approval.id,
			title: approval.title,
			details: approval.details,
			status: approval.status,
			workflowId: approval.workflowId,
			workflowName: approval.workflowName,
			runId: approval.runId,
			nodeId: approval.nodeId,
			deadlineAt: approval.deadlineAt,
			createdAt: approval.createdAt,
			decidedAt: approval.decidedAt,
			comment: approval.comment
		}))
	};
};

function decide(event: RequestEvent, approved: boolean) {
	return runFormAction(event, decisionSchema, ['approvalId', 'comment'], async (c) => {
		const { approvalId, comment } = c.data;
		const approval = await decideApproval(
			c.services,
			c.principal,
			event.params.id,
			approvalId,
			{ approved, comment },
			c.meta
		);
		return { decided: { title: approval?.title ?? '', approved } };
	});
}

export const actions: Actions = {
	approve: (event) => decide(event, true),
	reject: (event) => decide(event, false)
};
