import { Redis } from 'ioredis';
import { HandlerRegistry, type BusErrorReporter, type EventBus } from './bus.ts';

const channelPrefix = 'awe:';

/** Redis pub/sub: one connection publishes, a second one (subscriber mode) receives. */
export async function createRedisBus(url: string, onError: BusErrorReporter): Promise<EventBus> {
	const options = {
		// Publishing is best-effort: fail fast instead of queueing while Redis is away.
		maxRetriesPerRequest: 1,
		connectTimeout: 5_000,
		lazyConnect: true
	};
	const publisher = new Redis(url, options);
	const subscriber = new Redis(url, options);
	const registry = new HandlerRegistry(onError);
	for (const connection of [publisher, subscriber]) {
		connection.on('error', (error: unknown) => onError(error, 'redis'));
	}
	subscriber.on('message', (channel: string, json: string) => {
		registry.deliver(channel.slice(channelPrefix.length), json);
	});
	try {
		await Promise.all([publisher.connect(), subscriber.connect()]);
	} catch (error) {
		publisher.disconnect();
		subscriber.disconnect();
		throw error;
	}

	return {
		kind: 'redis',
		async publish(channel, message) {
			await publisher.publish(channelPrefix + channel, JSON.stringify(message));
		},
		async subscribe(channel, handler) {
			if (registry.add(channel, handler)) await subscriber.subscribe(channelPrefix + channel);
			return async () => {
				if (registry.remove(channel, handler))
					await subscriber.unsubscribe(channelPrefix + channel);
			};
		},
		async ping() {
			await publisher.ping();
		},
		async close() {
			registry.clear();
			await Promise.allSettled([publisher.quit(), subscriber.quit()]);
		}
	};
}
