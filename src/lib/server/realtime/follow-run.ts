import type { Db } from '../db/index.ts';
import * as runsDb from '../db/runs.ts';
import { runChannel, type RunEventMessage } from '../channels.ts';
import type { RunEvent } from '../db/schema/index.ts';
import type { EventBus } from '../bus/bus.ts';

const pageSize = 500;

/** Persisted events of a run with `after < seq ≤ upTo`, in order, a page at a time. */
export async function* eventPages(
	db: Db,
	runId: string,
	after: number,
	upTo = Number.MAX_SAFE_INTEGER
): AsyncGenerator<RunEventMessage[]> {
	for (let from = after; ;) {
		const page = await runsDb.listEvents(db, runId, from, pageSize);
		const events = page.filter((row) => row.seq <= upTo).map(toMessage);
		if (events.length > 0) yield events;
		if (page.length < pageSize || events.length < page.length) return;
		from = page.at(-1)?.seq ?? from;
	}
}

export function toMessage(row: RunEvent): RunEventMessage {
	return {
		runId: row.runId,
		workspaceId: row.workspaceId,
		seq: row.seq,
		type: row.type,
		stepId: row.stepId,
		nodeId: row.nodeId,
		data: row.data as Record<string, unknown>,
		at: row.at.toISOString()
	};
}

/** Reads persisted events of a run with `after < seq ≤ upTo`, in order. */
export async function readEvents(
	db: Db,
	runId: string,
	after: number,
	upTo = Number.MAX_SAFE_INTEGER
): Promise<RunEventMessage[]> {
	const events: RunEventMessage[] = [];
	for await (const page of eventPages(db, runId, after, upTo)) events.push(...page);
	return events;
}

/**
 * Follows a run: every persisted event with `seq > afterSeq`, then live ones from the bus, in
 * sequence order with no gap and no duplicate. Subscribes before it reads, so an event committed
 * while the replay runs arrives live (or was read) either way; a live event that skips ahead
 * (workers publish after their commits, not always in commit order) has the missing ones read from
 * the database first. Returns the function that stops following.
 */
export async function followRun(options: {
	db: Db;
	bus: EventBus;
	runId: string;
	afterSeq: number;
	deliver(event: RunEventMessage): void;
	onError?(error: unknown): void;
}): Promise<() => Promise<void>> {
	const { db, bus, runId, deliver } = options;
	let last = options.afterSeq;
	let stopped = false;
	// Live events wait here while the replay (or a gap's catch-up) runs; drained in seq order.
	const pending = new Map<number, RunEventMessage>();
	let draining: Promise<void> | null = null;

	const emit = (event: RunEventMessage) => {
		if (stopped || event.seq <= last) return;
		last = event.seq;
		deliver(event);
	};

	async function drain(): Promise<void> {
		while (!stopped && pending.size > 0) {
			const next = Math.min(...pending.keys());
			const event = pending.get(next) as RunEventMessage;
			pending.delete(next);
			if (next <= last) continue;
			if (next > last + 1) {
				for (const missing of await readEvents(db, runId, last, next - 1)) emit(missing);
			}
			emit(event);
		}
	}

	function schedule(): void {
		if (draining) return;
		draining = drain()
			.catch((error: unknown) => options.onError?.(error))
			.finally(() => {
				draining = null;
				if (pending.size > 0 && !stopped) schedule();
			});
	}

	let replaying = true;
	const unsubscribe = await bus.subscribe(runChannel(runId), (message) => {
		const event = message as RunEventMessage;
		if (stopped || typeof event?.seq !== 'number' || event.seq <= last) return;
		pending.set(event.seq, event);
		if (!replaying) schedule();
	});
	try {
		for (const event of await readEvents(db, runId, last)) emit(event);
	} catch (error) {
		await unsubscribe();
		throw error;
	}
	replaying = false;
	schedule();
	return async () => {
		stopped = true;
		pending.clear();
		await unsubscribe();
	};
}
