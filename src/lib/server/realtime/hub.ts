import type { Db } from '../db/index.ts';
import * as runsDb from '../db/runs.ts';
import {
	type RunEventMessage,
	workspaceRunsChannel,
	deltaChannel,
	type PublishedDelta
} from '../channels.ts';
import type { DeltaMessage, EventMessage } from '../../schemas/realtime.ts';
import type { EventBus } from '../bus/bus.ts';
import { eventPages, followRun, readEvents } from './follow-run.ts';

/** Where a hub sends the frames of one subscription: a socket, in production. */
export interface FrameSink {
	/** Sends one serialized server message; the sink applies its own limits. */
	send(frame: Buffer): void;
	/** Resolves once the sink can take more (between replay pages). */
	ready(): Promise<void>;
}

export const frameOf = (message: EventMessage | DeltaMessage): Buffer =>
	Buffer.from(JSON.stringify(message));

export function eventMessage(event: RunEventMessage, topic: EventMessage['topic']): EventMessage {
	return {
		type: 'event',
		topic,
		runId: event.runId,
		workspaceId: event.workspaceId,
		seq: event.seq,
		event: event.type,
		stepId: event.stepId,
		nodeId: event.nodeId,
		data: event.data,
		at: event.at
	};
}

/** Stops a subscription once it started; one that failed to start has nothing to stop. */
const stopWhenStarted = (started: Promise<() => Promise<void>>) =>
	started.then((stop) => stop()).catch(() => {});

interface Follower {
	runId: string;
	sink: FrameSink;
	last: number;
	/** Frames that arrived while this follower was replaying, in seq order. */
	buffered: { seq: number; frame: Buffer }[] | null;
	stopped: boolean;
}

interface RunStream {
	followers: Set<Follower>;
	started: Promise<() => Promise<void>>;
}

/**
 * Per-process fan-out of run events. Each followed run has one bus subscription and one ordered
 * stream (`followRun` from the run's current seq); every event is serialized once and sent to each
 * follower. A follower joins by replaying its own cursor from `run_events` while the stream's
 * frames queue for it, then drains the queue (reading any gap between the two from the database)
 * and goes live — no gap, no duplicate.
 */
export class RunHub {
	readonly #db: Db;
	readonly #bus: EventBus;
	readonly #onError: (error: unknown) => void;
	readonly #streams = new Map<string, RunStream>();

	constructor(options: { db: Db; bus: EventBus; onError: (error: unknown) => void }) {
		this.#db = options.db;
		this.#bus = options.bus;
		this.#onError = options.onError;
	}

	/** Runs with at least one follower in this process. */
	get size(): number {
		return this.#streams.size;
	}

	async follow(runId: string, afterSeq: number, sink: FrameSink): Promise<() => Promise<void>> {
		const follower: Follower = { runId, sink, last: afterSeq, buffered: [], stopped: false };
		const stream = this.#join(runId, follower);
		const leave = () => this.#leave(runId, stream, follower);
		try {
			await stream.started;
			for await (const page of eventPages(this.#db, runId, follower.last)) {
				for (const event of page)
					this.#send(follower, event.seq, frameOf(eventMessage(event, 'run')));
				if (follower.stopped) return leave;
				await sink.ready();
			}
			await this.#catchUp(follower);
		} catch (error) {
			await leave();
			throw error;
		}
		return leave;
	}

	/** Stops every stream (server shutdown). */
	async close(): Promise<void> {
		const streams = [...this.#streams.values()];
		this.#streams.clear();
		await Promise.all(streams.map((stream) => stopWhenStarted(stream.started)));
	}

	#join(runId: string, follower: Follower): RunStream {
		let stream = this.#streams.get(runId);
		if (!stream) {
			const created: RunStream = { followers: new Set(), started: Promise.resolve(async () => {}) };
			created.started = this.#start(runId, created);
			// A stream that failed to start is forgotten, so the next subscriber tries again.
			created.started.catch(() => {
				if (this.#streams.get(runId) === created) this.#streams.delete(runId);
			});
			this.#streams.set(runId, (stream = created));
		}
		stream.followers.add(follower);
		return stream;
	}

	async #start(runId: string, stream: RunStream): Promise<() => Promise<void>> {
		const run = await runsDb.getPosition(this.#db, runId);
		const unsubscribeDeltas = await this.#bus.subscribe(deltaChannel(runId), (message) => {
			const delta = message as PublishedDelta;
			const frame = frameOf({ type: 'delta', ...delta });
			for (const follower of stream.followers) if (!follower.stopped) follower.sink.send(frame);
		});
		try {
			const stop = await followRun({
				db: this.#db,
				bus: this.#bus,
				runId,
				afterSeq: run?.eventSeq ?? 0,
				deliver: (event) => {
					const frame = frameOf(eventMessage(event, 'run'));
					for (const follower of stream.followers) this.#offer(follower, event.seq, frame);
				},
				onError: this.#onError
			});
			return async () => {
				await Promise.all([stop(), unsubscribeDeltas()]);
			};
		} catch (error) {
			await unsubscribeDeltas();
			throw error;
		}
	}

	#offer(follower: Follower, seq: number, frame: Buffer): void {
		if (follower.buffered) follower.buffered.push({ seq, frame });
		else if (seq === follower.last + 1) this.#send(follower, seq, frame);
		else if (seq > follower.last) {
			// Cannot happen while the stream is in order; recover rather than skip.
			follower.buffered = [{ seq, frame }];
			void this.#catchUp(follower).catch(this.#onError);
		}
	}

	#send(follower: Follower, seq: number, frame: Buffer): void {
		if (follower.stopped || seq <= follower.last) return;
		follower.last = seq;
		follower.sink.send(frame);
	}

	/** Drains what queued during the replay, reading any gap before it, then goes live. */
	async #catchUp(follower: Follower): Promise<void> {
		while (follower.buffered && follower.buffered.length > 0 && !follower.stopped) {
			const queued = follower.buffered;
			follower.buffered = [];
			for (const { seq, frame } of queued) {
				if (seq > follower.last + 1) {
					for (const event of await readEvents(this.#db, follower.runId, follower.last, seq - 1))
						this.#send(follower, event.seq, frameOf(eventMessage(event, 'run')));
				}
				this.#send(follower, seq, frame);
			}
		}
		follower.buffered = null;
	}

	async #leave(runId: string, stream: RunStream, follower: Follower): Promise<void> {
		follower.stopped = true;
		stream.followers.delete(follower);
		if (stream.followers.size > 0 || this.#streams.get(runId) !== stream) return;
		this.#streams.delete(runId);
		await stopWhenStarted(stream.started);
	}
}

/** Per-process fan-out of workspaces' run feeds (live only: run.* events as they are published). */
export class WorkspaceHub {
	readonly #bus: EventBus;
	readonly #feeds = new Map<
		string,
		{ sinks: Set<FrameSink>; started: Promise<() => Promise<void>> }
	>();

	constructor(options: { bus: EventBus }) {
		this.#bus = options.bus;
	}

	async follow(workspaceId: string, sink: FrameSink): Promise<() => Promise<void>> {
		let feed = this.#feeds.get(workspaceId);
		if (!feed) {
			const sinks = new Set<FrameSink>();
			const started = this.#bus.subscribe(workspaceRunsChannel(workspaceId), (message) => {
				const frame = frameOf(eventMessage(message as RunEventMessage, 'workspace'));
				for (const each of sinks) each.send(frame);
			});
			feed = { sinks, started };
			this.#feeds.set(workspaceId, feed);
			started.catch(() => {
				if (this.#feeds.get(workspaceId) === feed) this.#feeds.delete(workspaceId);
			});
		}
		feed.sinks.add(sink);
		const current = feed;
		const leave = async () => {
			if (!current.sinks.delete(sink) || current.sinks.size > 0) return;
			if (this.#feeds.get(workspaceId) === current) this.#feeds.delete(workspaceId);
			await stopWhenStarted(current.started);
		};
		try {
			await current.started;
		} catch (error) {
			await leave();
			throw error;
		}
		return leave;
	}

	async close(): Promise<void> {
		const feeds = [...this.#feeds.values()];
		this.#feeds.clear();
		await Promise.all(feeds.map((feed) => stopWhenStarted(feed.started)));
	}
}
