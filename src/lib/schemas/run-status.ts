// A run's states, and the two sets every layer (and the browser) asks about.
export const runStatuses = [
	'queued',
	'running',
	'waiting',
	'succeeded',
	'failed',
	'cancelled'
] as const;
export type RunStatus = (typeof runStatuses)[number];

/** Still going: a worker may yet execute a step of it. */
export const activeRunStatuses = ['queued', 'running', 'waiting'] as const satisfies RunStatus[];
/** Ended for good: its output or error is final. */
export const finishedRunStatuses = [
	'succeeded',
	'failed',
	'cancelled'
] as const satisfies RunStatus[];

export const isActiveRun = (status: RunStatus): boolean =>
	(activeRunStatuses as readonly RunStatus[]).includes(status);
export const isFinishedRun = (status: RunStatus): boolean =>
	(finishedRunStatuses as readonly RunStatus[]).includes(status);
