import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EventBus } from './bus.ts';
import { DeltaPublisher } from './deltas.ts';
import { deltaChannel, type PublishedDelta } from '../channels.ts';

function recordingBus() {
	const published: { channel: string; message: PublishedDelta }[] = [];
	const bus = {
		publish: async (channel: string, message: unknown) => {
			published.push({ channel, message: message as PublishedDelta });
		}
	} as unknown as EventBus;
	return { bus, published };
}

const step = { runId: 'run-1', stepId: 'step-1', nodeId: 'talk' };

describe('DeltaPublisher', () => {
	afterEach(() => vi.useRealTimers());

	it('coalesces what arrives within the interval into one message with its offset', () => {
		vi.useFakeTimers();
		const { bus, published } = recordingBus();
		const deltas = new DeltaPublisher(bus, { intervalMs: 50, onError: () => {} });
		for (let i = 0; i < 100; i++) deltas.push(step, 'ab');
		expect(published).toHaveLength(0);
		vi.advanceTimersByTime(50);
		deltas.push(step, 'cd');
		deltas.push(step, 'e');
		vi.advanceTimersByTime(50);
		expect(published).toEqual([
			{
				channel: deltaChannel('run-1'),
				message: {
					runId: 'run-1',
					stepId: 'step-1',
					nodeId: 'talk',
					offset: 0,
					text: 'ab'.repeat(100)
				}
			},
			{
				channel: deltaChannel('run-1'),
				message: { runId: 'run-1', stepId: 'step-1', nodeId: 'talk', offset: 200, text: 'cde' }
			}
		]);
	});

	it('flushes at once when the step ends, and starts a later step of the same id at offset 0', () => {
		vi.useFakeTimers();
		const { bus, published } = recordingBus();
		const deltas = new DeltaPublisher(bus, { onError: () => {} });
		deltas.push(step, 'hello');
		deltas.end(step.stepId);
		expect(published.map(({ message }) => [message.offset, message.text])).toEqual([[0, 'hello']]);
		vi.advanceTimersByTime(1_000);
		expect(published).toHaveLength(1);
		deltas.push(step, 'again');
		deltas.close();
		expect(published.map(({ message }) => [message.offset, message.text])).toEqual([
			[0, 'hello'],
			[0, 'again']
		]);
	});

	it('keeps steps apart and ignores empty text', () => {
		vi.useFakeTimers();
		const { bus, published } = recordingBus();
		const deltas = new DeltaPublisher(bus, { onError: () => {} });
		deltas.push(step, 'one');
		deltas.push({ ...step, stepId: 'step-2' }, 'two');
		deltas.push(step, '');
		vi.advanceTimersByTime(50);
		expect(published.map(({ message }) => [message.stepId, message.text]).sort()).toEqual([
			['step-1', 'one'],
			['step-2', 'two']
		]);
	});
});
