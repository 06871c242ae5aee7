import type { DeltaMessage } from '../schemas/realtime.ts';

// The event bus's channels and what each carries. Publishers and subscribers in every layer use
// these names, so they live at the bottom.

/** An event as committed, with its sequence number: what the bus carries and clients resume from. */
export interface RunEventMessage {
	runId: string;
	workspaceId: string;
	seq: number;
	type: string;
	stepId: string | null;
	nodeId: string | null;
	data: Record<string, unknown>;
	at: string;
}

/** Every committed event of one run, in `seq` order. */
export const runChannel = (runId: string) => `run:${runId}`;
/** The `run.*` events of a workspace's runs, for run lists. */
export const workspaceRunsChannel = (workspaceId: string) => `workspace-runs:${workspaceId}`;

/** Runs that ended while workers may still be executing their steps. */
export const cancelChannel = 'engine:cancel';
export interface CancelRequest {
	runId: string;
}

/** Streamed output of running steps: live only, never persisted (the step's output is). */
export const deltaChannel = (runId: string) => `run-deltas:${runId}`;
export type PublishedDelta = Omit<DeltaMessage, 'type'>;

/**
 * Told whenever what a user may see changed: a session or token revoked, a password changed, a
 * membership removed or its role changed. Realtime servers re-check that user's connections at
 * once (they also re-check every connection periodically, since the bus is best-effort).
 */
export const accessChangedChannel = 'auth:access-changed';
export interface AccessChanged {
	userId: string;
}
