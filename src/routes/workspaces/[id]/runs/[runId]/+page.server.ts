import { fail, redirect } from '@sveltejs/kit';
import { parseJsonText } from '$lib/schemas/storable';
import { z } from 'zod';
import { isFinishedRun } from '$lib/schemas/run-status';
import { runFormAction, requirePrincipal } from '$lib/server/http/forms';
import { orHttpError } from '$lib/server/http/load-error';
import { roleAtLeast } from '$lib/server/policy';
import {
	cancelRun,
	getRunDetail,
	listApprovals,
	listRunEvents,
	rerun
} from '$lib/server/services/runs';
import { getWorkspace } from '$lib/server/services/workspaces';
import type { Actions, PageServerLoad } from './$types';
import { summarize } from './live-run';

const rerunFromSchema = z.object({
	nodeId: z.string({ error: 'Pick a step.' }).min(1, 'Pick a step.').max(64),
	input: z.string().max(100_000, 'The input is too large.').default('')
});

export const load: PageServerLoad = async (event) => {
	const principal = requirePrincipal(event);
	// The page loads again (`invalidate('app:run')`) when live events change what it shows.
	event.depends('app:run');
	const services = event.locals.runtime.services;
	const { id, runId } = event.params;
	const [workspace, detail, events] = await Promise.all([
		orHttpError(getWorkspace(services, principal, id)),
		orHttpError(getRunDetail(services, principal, id, runId)),
		orHttpError(listRunEvents(services, principal, id, runId, 0))
	]);
	const { run, version } = detail;
	// In the order the definition lists its nodes (steps created together would sort by node id).
	const order = new Map(version?.definition.nodes.map((node, index) => [node.id, index]));
	const steps = detail.steps.toSorted(
		(a, b) =>
			(order.get(a.nodeId) ?? Infinity) - (order.get(b.nodeId) ?? Infinity) ||
			a.nodeId.localeCompare(b.nodeId) ||
			a.iteration - b.iteration ||
			a.path.localeCompare(b.path)
	);
	// An agent's tool call that waits for a person links to its request in the inbox.
	const awaitsDecision = detail.steps.some(
		(step) => step.kind === 'agent.tool' && step.status === 'waiting'
	);
	const approvals = awaitsDecision
		? (await orHttpError(listApprovals(services, principal, id, 'pending'))).filter(
				(approval) => approval.runId === run.id
			)
		: [];
	return {
		workspace: { id: workspace.id, name: workspace.name },
		run: {
			id: run.id,
			status: run.status,
			trigger: run.trigger,
			workflowId: run.workflowId,
			workflowName: detail.workflowName,
			version: version?.number ?? null,
			input: run.input,
			output: run.output,
			error: run.error,
			parentRunId: run.parentRunId,
			rerunOf: run.rerunOf,
			createdAt: run.createdAt,
			startedAt: run.startedAt,
			finishedAt: run.finishedAt,
			finished: isFinishedRun(run.status),
			usage: detail.usage
		},
		canRun: roleAtLeast(detail.role, 'editor'),
		nodes: (version?.definition.nodes ?? []).map((node) => ({ id: node.id, kind: node.kind })),
		steps: steps.map((step) => ({
			id: step.id,
			nodeId: step.nodeId,
			kind: step.kind,
			iteration: step.iteration,
			path: step.path,
			status: step.status,
			attempt: step.attempt,
			branch: step.branch,
			reused: step.reused,
			input: step.input,
			output: step.output,
			error: step.error,
			startedAt: step.startedAt,
			finishedAt: step.finishedAt,
			usage: step.usage
		})),
		pendingApprovals: approvals.map((approval) => ({
			id: approval.id,
			stepId: approval.stepId,
			title: approval.title
		})),
		events: events.map((runEvent) => ({
			seq: runEvent.seq,
			type: runEvent.type,
			nodeId: runEvent.nodeId,
			at: runEvent.at,
			data: summarize(runEvent.data)
		}))
	};
};

export const actions: Actions = {
	cancel: (event) =>
		runFormAction(event, z.object({}), ['intent'], async (c) => {
			await cancelRun(c.services, c.principal, event.params.id, event.params.runId, c.meta);
			return { cancelled: true };
		}),
	retry: (event) =>
		runFormAction(event, z.object({}), ['intent'], async (c) => {
			const { id, runId } = event.params;
			const next = await rerun(c.services, c.principal, id, runId, { fromNodeId: null }, c.meta);
			redirect(303, `/workspaces/${id}/runs/${next.id}`);
		}),
	rerunFrom: (event) =>
		runFormAction(event, rerunFromSchema, ['intent', 'nodeId', 'input'], async (c) => {
			const { id, runId } = event.params;
			let input: unknown;
			if (c.data.input.trim() !== '') {
				const parsed = parseJsonText(c.data.input);
				if (!parsed.ok) {
					const values: Record<string, string> = {
						intent: 'rerunFrom',
						nodeId: c.data.nodeId,
						input: c.data.input
					};
					return fail(400, {
						message: 'The input is not valid.',
						fields: { input: parsed.message },
						values
					});
				}
				input = parsed.value;
			}
			const next = await rerun(
				c.services,
				c.principal,
				id,
				runId,
				{ fromNodeId: c.data.nodeId, input },
				c.meta
			);
			redirect(303, `/workspaces/${id}/runs/${next.id}`);
		})
};
