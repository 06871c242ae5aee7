import {
	cancelChannel,
	runChannel,
	workspaceRunsChannel,
	type CancelRequest,
	type RunEventMessage
} from '../channels.ts';
import type { EventBus } from './bus.ts';

/**
 * Publishes committed events for live views; the database already holds them. Sent all at once:
 * the bus keeps the order of publishes on one channel, and nobody waits a round trip per event.
 */
export async function publishEvents(bus: EventBus, events: RunEventMessage[]): Promise<void> {
	const sent: Promise<void>[] = [];
	for (const event of events) {
		sent.push(bus.publish(runChannel(event.runId), event));
		if (event.type.startsWith('run.'))
			sent.push(bus.publish(workspaceRunsChannel(event.workspaceId), event));
		// Workers executing a step of a run that just ended abort it instead of waiting for a heartbeat.
		if (event.type === 'run.cancelled' || event.type === 'run.failed') {
			const request: CancelRequest = { runId: event.runId };
			sent.push(bus.publish(cancelChannel, request));
		}
	}
	await Promise.all(sent);
}
