import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog, lockRun } from '../../src/lib/server/engine/transitions.ts';
import { publishEvents } from '../../src/lib/server/bus/run-events.ts';
import { RunHub, type FrameSink } from '../../src/lib/server/realtime/hub.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { waitUntil } from '../helpers/deadline.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

/**
 * The per-process fan-out, driven step by step: a subscriber whose replay is paused between pages
 * while new events are committed and published must still get every event once, in order.
 */
const testDb = useTestDatabase();
let engine: EngineHarness;
let hub: RunHub;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	hub = new RunHub({
		db: testDb.database.db,
		bus: engine.ctx.bus,
		onError: (error) => {
			throw error;
		}
	});
});
afterAll(() => hub.close());

async function append(runId: string, count: number): Promise<number> {
	const events = await testDb.database.db.transaction(async (tx) => {
		await lockRun(tx, runId);
		const log = new EventLog();
		for (let i = 0; i < count; i++) log.add(runId, engine.workspaceId, { type: 'test.tick' });
		return log.write(tx);
	});
	await publishEvents(engine.ctx.bus, events);
	return events.at(-1)?.seq ?? 0;
}

/** A sink that records seqs and can hold the replay at its next page boundary. */
function pausableSink() {
	const seqs: number[] = [];
	let gate: Promise<void> | null = null;
	let open = () => {};
	let reachedGate = () => {};
	const atGate = new Promise<void>((resolve) => (reachedGate = resolve));
	const sink: FrameSink = {
		send(frame) {
			seqs.push((JSON.parse(frame.toString()) as { seq: number }).seq);
		},
		async ready() {
			if (!gate) return;
			reachedGate();
			await gate;
			gate = null;
		}
	};
	return {
		sink,
		seqs,
		hold() {
			gate = new Promise<void>((resolve) => (open = resolve));
		},
		atGate,
		release: () => open()
	};
}

const until = (what: string, check: () => boolean) =>
	waitUntil(check, { what, baseMs: 20_000, intervalMs: 10 });

describe('the run hub', () => {
	it('queues live events behind a paused replay and delivers each once, in order', async () => {
		const workflowId = await engine.publish({ nodes: [{ id: 'start', kind: 'input' }], edges: [] });
		const run = await engine.start(workflowId, {});
		let last = 0;
		// More than one replay page (500), so the replay stops at a page boundary.
		for (let i = 0; i < 7; i++) last = await append(run.id, 100);

		// Someone already follows the run live, so its stream exists before the replay starts.
		const live = pausableSink();
		const leaveLive = await hub.follow(run.id, last, live.sink);

		const replaying = pausableSink();
		replaying.hold();
		const following = hub.follow(run.id, 0, replaying.sink);
		await replaying.atGate;
		expect(replaying.seqs.length).toBe(500);
		// Committed and published while the replay waits: the live follower gets them now.
		const before = last;
		last = await append(run.id, 3);
		await until('the live follower to have the new events', () => live.seqs.at(-1) === last);
		expect(live.seqs).toEqual([before + 1, before + 2, before + 3]);
		replaying.release();
		const leave = await following;
		last = await append(run.id, 2);
		await until('the released follower to catch up', () => replaying.seqs.at(-1) === last);
		expect(replaying.seqs).toEqual(Array.from({ length: last }, (_, index) => index + 1));
		await leave();
		await leaveLive();
		expect(hub.size).toBe(0);
	});
});
