import type { Logger } from '../platform/logger.ts';
import type { EventBus } from './bus.ts';

/**
 * Told whenever what a user may see changed: a session or token revoked, a password changed, a
 * membership removed or its role changed. Realtime servers re-check that user's connections at
 * once (they also re-check every connection periodically, since the bus is best-effort).
 */
export const accessChangedChannel = 'auth:access-changed';

export interface AccessChanged {
	userId: string;
}

/** Publishes after the change committed; a failure is logged, the periodic re-check still catches it. */
export async function announceAccessChange(
	ctx: { bus: EventBus; logger: Logger },
	userId: string
): Promise<void> {
	const message: AccessChanged = { userId };
	await ctx.bus
		.publish(accessChangedChannel, message)
		.catch((error: unknown) =>
			ctx.logger.warn({ err: error }, 'announcing an access change failed')
		);
}
