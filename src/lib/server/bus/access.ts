import type { Logger } from '../platform/logger.ts';
import { accessChangedChannel, type AccessChanged } from '../channels.ts';
import type { EventBus } from './bus.ts';

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
