import type { Logger } from '../platform/logger.ts';
import { createInProcessBus, type EventBus } from './bus.ts';
import { createRedisBus } from './redis-bus.ts';

/** Redis when configured (events reach every process), otherwise in-process. */
export async function openEventBus(
	redisUrl: string | undefined,
	logger: Logger
): Promise<EventBus> {
	const reportBusError = (error: unknown, channel: string) =>
		logger.error({ err: error, channel }, 'event bus handler failed');
	return redisUrl ? createRedisBus(redisUrl, reportBusError) : createInProcessBus(reportBusError);
}
