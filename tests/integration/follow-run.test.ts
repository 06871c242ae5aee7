import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog, lockRun } from '../../src/lib/server/engine/transitions.ts';
import { publishEvents } from '../../src/lib/server/bus/run-events.ts';
import { createInProcessBus, type EventBus } from '../../src/lib/server/bus/bus.ts';
import { followRun } from '../../src/lib/server/realtime/follow-run.ts';
import { createRedisBus } from '../../src/lib/server/bus/redis-bus.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { scaled } from '../helpers/deadline.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;
let bus: EventBus;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	const fail = (error: unknown) => {
		throw error;
	};
	// On PostgreSQL runs, the real Redis bus: its delivery is asynchronous across connections.
	bus = process.env.TEST_REDIS_URL
		? await createRedisBus(process.env.TEST_REDIS_URL, fail)
		: createInProcessBus(fail);
});
afterAll(() => bus.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Appends `count` events to the run in its own transaction and publishes them after a delay. */
async function append(runId: string, workspaceId: string, count: number, publishDelayMs: number) {
	const events = await testDb.database.db.transaction(async (tx) => {
		await lockRun(tx, runId);
		const log = new EventLog();
		for (let i = 0; i < count; i++) log.add(runId, workspaceId, { type: 'test.tick' });
		return log.write(tx);
	});
	// Committed first, published later: two writers publish out of commit order.
	await sleep(publishDelayMs);
	await publishEvents(bus, events);
	return events.at(-1)?.seq ?? 0;
}

describe('following a run', () => {
	it('replays then streams live, with no gap and no duplicate, while events are being written', async () => {
		const workflowId = await engine.publish({ nodes: [{ id: 'start', kind: 'input' }], edges: [] });
		const run = await engine.start(workflowId, {});
		const writes = 120;
		let written = 1; // run.queued
		let done = false;
		const writer = async (seed: number) => {
			for (let i = 0; i < writes / 2; i++) {
				// Read `written` after the await: the other writer may have moved it meanwhile.
				const seq = await append(
					run.id,
					engine.workspaceId,
					1 + ((i + seed) % 3),
					(i * 7 + seed) % 4
				);
				written = Math.max(written, seq);
			}
		};
		const writing = Promise.all([writer(0), writer(1)]).then(() => (done = true));

		const followers: { afterSeq: number; seen: number[]; stop: () => Promise<void> }[] = [];
		while (!done) {
			const afterSeq = Math.floor(Math.random() * written);
			const seen: number[] = [];
			const stop = await followRun({
				db: testDb.database.db,
				bus,
				runId: run.id,
				afterSeq,
				deliver: (event) => seen.push(event.seq)
			});
			followers.push({ afterSeq, seen, stop });
			await sleep(5);
		}
		await writing;
		const total = written;
		// Every follower catches up to the last event, then holds exactly the range it asked for.
		for (let waited = 0; waited < scaled(5_000); waited += 20) {
			if (followers.every((follower) => follower.seen.at(-1) === total)) break;
			await sleep(20);
		}
		expect(followers.length).toBeGreaterThan(5);
		for (const { afterSeq, seen } of followers) {
			expect(seen).toEqual(Array.from({ length: total - afterSeq }, (_, i) => afterSeq + 1 + i));
		}
		await Promise.all(followers.map((follower) => follower.stop()));
		// Stopped followers receive nothing more.
		const before = followers.map((follower) => follower.seen.length);
		await append(run.id, engine.workspaceId, 1, 0);
		await sleep(50);
		expect(followers.map((follower) => follower.seen.length)).toEqual(before);
	});
});
