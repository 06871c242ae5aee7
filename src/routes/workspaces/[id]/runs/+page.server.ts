import { runStatuses, type RunStatus } from '$lib/schemas/run-status';
import type { Run } from '$lib/server/db/schema';
import { requirePrincipal } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { listRuns } from '$lib/server/services/runs';
import { listWorkflows } from '$lib/server/services/workflows';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { PageServerLoad } from './$types';

const triggers = [
	'manual',
	'api',
	'webhook',
	'schedule',
	'workflow',
	'rerun'
] as const satisfies readonly Run['trigger'][];

function isRunStatus(value: string): value is RunStatus {
	return (runStatuses as readonly string[]).includes(value);
}

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	// The page loads again (`invalidate('app:runs')`) when the workspace's run feed says so.
	event.depends('app:runs');
	const services = event.locals.runtime.services;
	const id = event.params.id;
	const query = event.url.searchParams;
	// Unknown filter values are dropped rather than refused: these come from links and bookmarks.
	const filter = {
		workflowId: query.get('workflow') || undefined,
		status: query.getAll('status').filter(isRunStatus),
		trigger: triggers.find((trigger) => trigger === query.get('trigger'))
	};
	const before = query.get('before') || undefined;
	const [workspace, workflows, page] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(listWorkflows(services, principal, id)),
		orHttpError(
			listRuns(services, principal, id, {
				...filter,
				status: filter.status.length > 0 ? filter.status : undefined,
				before
			})
		)
	]);

	const filterQuery = new URLSearchParams();
	if (filter.workflowId) filterQuery.set('workflow', filter.workflowId);
	for (const status of filter.status) filterQuery.append('status', status);
	if (filter.trigger) filterQuery.set('trigger', filter.trigger);
	const olderQuery = new URLSearchParams(filterQuery);
	if (page.next !== null) olderQuery.set('before', page.next);

	return {
		workspace: { id: workspace.id, name: workspace.name },
		workflows: workflows.map((workflow) => ({ id: workflow.id, name: workflow.name })),
		statuses: runStatuses,
		triggers,
		filter: { ...filter, trigger: filter.trigger ?? '', workflowId: filter.workflowId ?? '' },
		filtered: filterQuery.size > 0,
		newestQuery: before === undefined ? null : filterQuery.toString(),
		olderQuery: page.next === null ? null : olderQuery.toString(),
		runs: page.runs.map((run) => ({
			id: run.id,
			status: run.status,
			workflowId: run.workflowId,
			workflowName: run.workflowName,
			trigger: run.trigger,
			createdAt: run.createdAt,
			startedAt: run.startedAt,
			finishedAt: run.finishedAt,
			error: run.error?.message ?? null
		}))
	};
};
