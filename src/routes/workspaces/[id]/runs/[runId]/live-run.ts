import type { DeltaMessage, EventMessage } from '$lib/schemas/realtime';
import { runStatuses, type RunStatus } from '$lib/schemas/run-status';
import type { StepStatus } from '$lib/schemas/workflow';

/** A row of the event log. */
export interface LoggedEvent {
	seq: number;
	type: string;
	nodeId: string | null;
	at: Date;
	data: string;
}

/** An event that arrived over the socket: it also says which step it is about. */
export type LiveEvent = LoggedEvent & { stepId: string | null };

/** What a step's streamed output adds up to so far; `end` is its offset in the whole stream. */
export interface StepStream {
	text: string;
	end: number;
}

/** An event's data on one line, cut short: the steps show the full values. */
export function summarize(data: Record<string, unknown>): string {
	if (Object.keys(data).length === 0) return '';
	const text = JSON.stringify(data);
	return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

export const toLiveEvent = (message: EventMessage): LiveEvent => ({
	seq: message.seq,
	type: message.event,
	nodeId: message.nodeId,
	stepId: message.stepId,
	at: new Date(message.at),
	data: summarize(message.data)
});

const stepStatusAfter: Partial<Record<string, StepStatus>> = {
	'step.started': 'running',
	'step.succeeded': 'succeeded',
	'step.failed': 'failed',
	'step.retrying': 'ready',
	'step.waiting': 'waiting',
	'step.skipped': 'skipped'
};

const activeStepStatuses: readonly StepStatus[] = ['pending', 'ready', 'running', 'waiting'];

const isRunStatus = (status: string): status is RunStatus =>
	(runStatuses as readonly string[]).includes(status);

/**
 * The run's and steps' statuses once `events` (newer than what was loaded) happened, as the engine
 * changes them: enough to show at once, until the page loads the rest (outputs, timings).
 */
export function applyEvents<S extends { id: string; status: StepStatus }>(
	runStatus: RunStatus,
	steps: S[],
	events: LiveEvent[]
): { runStatus: RunStatus; steps: S[] } {
	if (events.length === 0) return { runStatus, steps };
	const statuses = new Map<string, StepStatus>(steps.map((step) => [step.id, step.status]));
	for (const event of events) {
		const stepStatus = stepStatusAfter[event.type];
		if (stepStatus && event.stepId !== null) statuses.set(event.stepId, stepStatus);
		if (event.type === 'step.started' && (runStatus === 'queued' || runStatus === 'waiting')) {
			runStatus = 'running';
		}
		const next = event.type.slice('run.'.length);
		if (!event.type.startsWith('run.') || !isRunStatus(next)) continue;
		runStatus = next;
		// A run that fails or is cancelled cancels whatever had not finished.
		if (next === 'failed' || next === 'cancelled') {
			for (const [id, status] of statuses)
				if (activeStepStatuses.includes(status)) statuses.set(id, 'cancelled');
		}
	}
	return {
		runStatus,
		steps: steps.map((step) => {
			const status = statuses.get(step.id) ?? step.status;
			return status === step.status ? step : { ...step, status };
		})
	};
}

/** Whether the page must load again to show what `event` changed (outputs, errors, new steps). */
export function reloadsPage(event: LiveEvent, knownStepIds: ReadonlySet<string>): boolean {
	if (event.type === 'step.logs') return false;
	if (event.type === 'step.started')
		return event.stepId !== null && !knownStepIds.has(event.stepId);
	return true;
}

/** Adds a delta to a step's stream; text that was missed shows as an ellipsis. */
export function appendDelta(stream: StepStream | undefined, delta: DeltaMessage): StepStream {
	const { text, end } = stream ?? { text: '', end: 0 };
	const deltaEnd = delta.offset + delta.text.length;
	if (deltaEnd <= end) return stream ?? { text, end };
	if (delta.offset > end) return { text: `${text}…${delta.text}`, end: deltaEnd };
	return { text: text + delta.text.slice(end - delta.offset), end: deltaEnd };
}
