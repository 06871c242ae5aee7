import { deltaChannel, type PublishedDelta } from '../channels.ts';
import type { EventBus } from './bus.ts';

interface StepStream {
	runId: string;
	nodeId: string;
	offset: number;
	pending: string;
	timer: NodeJS.Timeout | null;
}

/**
 * Coalesces a step's streamed text (model tokens) into one bus message per `intervalMs` (50 ms by
 * default): a model emitting hundreds of tokens a second costs the bus and every subscriber a few
 * messages, not hundreds. Each message carries the offset of its text, so a client that missed
 * one can tell.
 */
export class DeltaPublisher {
	readonly #bus: EventBus;
	readonly #intervalMs: number;
	readonly #onError: (error: unknown) => void;
	readonly #steps = new Map<string, StepStream>();

	constructor(bus: EventBus, options: { intervalMs?: number; onError: (error: unknown) => void }) {
		this.#bus = bus;
		this.#intervalMs = options.intervalMs ?? 50;
		this.#onError = options.onError;
	}

	push(step: { runId: string; stepId: string; nodeId: string }, text: string): void {
		if (text.length === 0) return;
		let stream = this.#steps.get(step.stepId);
		if (!stream) {
			stream = { runId: step.runId, nodeId: step.nodeId, offset: 0, pending: '', timer: null };
			this.#steps.set(step.stepId, stream);
		}
		stream.pending += text;
		stream.timer ??= setTimeout(() => this.#flush(step.stepId), this.#intervalMs);
	}

	/** Publishes what a step has pending and forgets it (the step finished). */
	end(stepId: string): void {
		this.#flush(stepId);
		this.#steps.delete(stepId);
	}

	close(): void {
		for (const stepId of [...this.#steps.keys()]) this.end(stepId);
	}

	#flush(stepId: string): void {
		const stream = this.#steps.get(stepId);
		if (!stream) return;
		if (stream.timer) clearTimeout(stream.timer);
		stream.timer = null;
		if (stream.pending.length === 0) return;
		const delta: PublishedDelta = {
			runId: stream.runId,
			stepId,
			nodeId: stream.nodeId,
			offset: stream.offset,
			text: stream.pending
		};
		stream.offset += stream.pending.length;
		stream.pending = '';
		this.#bus.publish(deltaChannel(stream.runId), delta).catch(this.#onError);
	}
}
