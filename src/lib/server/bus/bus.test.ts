import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { scaled } from '../../../../tests/helpers/deadline.ts';
import { createInProcessBus, type EventBus } from './bus.ts';
import { createRedisBus } from './redis-bus.ts';

type BusPair = { publisher: EventBus; subscriber: EventBus; errors: unknown[] };

const redisUrl = process.env.TEST_REDIS_URL;

const implementations: [string, () => Promise<BusPair>][] = [
	[
		'in-process',
		async () => {
			const errors: unknown[] = [];
			const bus = createInProcessBus((error) => errors.push(error));
			return { publisher: bus, subscriber: bus, errors };
		}
	]
];
if (redisUrl) {
	implementations.push([
		'redis (two connections, as two processes would have)',
		async () => {
			const errors: unknown[] = [];
			const publisher = await createRedisBus(redisUrl, (error) => errors.push(error));
			const subscriber = await createRedisBus(redisUrl, (error) => errors.push(error));
			return { publisher, subscriber, errors };
		}
	]);
}

function collect(bus: EventBus, channel: string) {
	const received: unknown[] = [];
	const waiters: (() => void)[] = [];
	const ready = bus.subscribe(channel, (message) => {
		received.push(message);
		waiters.splice(0).forEach((wake) => wake());
	});
	return {
		received,
		ready,
		async waitFor(count: number) {
			const deadline = Date.now() + scaled(5_000);
			while (received.length < count) {
				if (Date.now() > deadline) throw new Error(`got ${received.length} of ${count} messages`);
				await new Promise<void>((wake) => {
					waiters.push(wake);
					setTimeout(wake, 50);
				});
			}
			return received;
		}
	};
}

describe.each(implementations)('event bus: %s', (_name, open) => {
	let pair: BusPair;
	afterEach(async () => {
		await pair.publisher.close();
		if (pair.subscriber !== pair.publisher) await pair.subscriber.close();
	});

	it('delivers published messages to subscribers of the channel only, in order, as JSON', async () => {
		pair = await open();
		const channel = `run:${randomUUID()}`;
		const mine = collect(pair.subscriber, channel);
		const other = collect(pair.subscriber, `${channel}:other`);
		await Promise.all([mine.ready, other.ready]);
		await pair.publisher.publish(channel, { seq: 1, at: new Date(0) });
		await pair.publisher.publish(channel, { seq: 2 });
		expect(await mine.waitFor(2)).toEqual([{ seq: 1, at: '1970-01-01T00:00:00.000Z' }, { seq: 2 }]);
		expect(other.received).toEqual([]);
	});

	it('stops delivering after unsubscribe and keeps other handlers', async () => {
		pair = await open();
		const channel = `run:${randomUUID()}`;
		const leaving = collect(pair.subscriber, channel);
		const staying = collect(pair.subscriber, channel);
		const unsubscribe = await leaving.ready;
		await staying.ready;
		await unsubscribe();
		await pair.publisher.publish(channel, 'after');
		expect(await staying.waitFor(1)).toEqual(['after']);
		expect(leaving.received).toEqual([]);
	});

	it('reports a throwing handler without starving the others', async () => {
		pair = await open();
		const channel = `run:${randomUUID()}`;
		await pair.subscriber.subscribe(channel, () => {
			throw new Error('handler bug');
		});
		const healthy = collect(pair.subscriber, channel);
		await healthy.ready;
		await pair.publisher.publish(channel, 42);
		expect(await healthy.waitFor(1)).toEqual([42]);
		expect(pair.errors).toHaveLength(1);
	});

	it('answers ping while open and refuses work once closed', async () => {
		pair = await open();
		await expect(pair.publisher.ping()).resolves.toBeUndefined();
		const closed = await open();
		await closed.publisher.close();
		await expect(closed.publisher.publish('x', 1)).rejects.toThrow();
	});
});

describe.runIf(redisUrl)('redis bus', () => {
	it('fails to start, instead of hanging, when Redis is unreachable', async () => {
		await expect(createRedisBus('redis://127.0.0.1:1', () => {})).rejects.toThrow();
	});
});
