import { describe, expect, it } from 'vitest';
import { createKeyedSemaphore } from './keyed-semaphore.ts';

describe('keyed semaphore', () => {
	it('holds each key to its limit and hands slots over in order', async () => {
		const semaphore = createKeyedSemaphore();
		const first = await semaphore.acquire('a', 1);
		const order: string[] = [];
		const second = semaphore.acquire('a', 1).then((release) => (order.push('second'), release));
		const third = semaphore.acquire('a', 1).then((release) => (order.push('third'), release));
		// Another key is not held up.
		(await semaphore.acquire('b', 1))();
		await Promise.resolve();
		expect(order).toEqual([]);
		first();
		(await second)();
		(await third)();
		expect(order).toEqual(['second', 'third']);
	});

	it('lets a waiting caller leave with its signal, without losing the slot', async () => {
		const semaphore = createKeyedSemaphore();
		const held = await semaphore.acquire('a', 1);
		const controller = new AbortController();
		const leaving = semaphore.acquire('a', 1, controller.signal);
		const staying = semaphore.acquire('a', 1);
		controller.abort(new Error('gave up'));
		await expect(leaving).rejects.toThrow('gave up');
		held();
		const release = await staying;
		release();
		release();
		// Releasing twice frees one slot only: the limit still holds.
		const again = await semaphore.acquire('a', 1);
		let granted = false;
		void semaphore.acquire('a', 1).then(() => (granted = true));
		await Promise.resolve();
		expect(granted).toBe(false);
		again();
	});
});
