import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTriggerSchema } from '../../src/lib/schemas/triggers.ts';
import { openDatabase } from '../../src/lib/server/db/index.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';
import * as triggersDb from '../../src/lib/server/db/triggers.ts';
import {
	fireDueSchedules,
	maxCatchUpTicks,
	type ScheduleFiring
} from '../../src/lib/server/services/schedules.ts';
import { Worker } from '../../src/lib/server/engine/worker.ts';
import { createTrigger, updateTrigger } from '../../src/lib/server/services/triggers.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { scaled } from '../helpers/deadline.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta } from '../helpers/services.ts';

const testDb = useTestDatabase();
let engine: EngineHarness;
let workflowId: string;

beforeAll(async () => {
	engine = await createEngineHarness(testDb.database);
	workflowId = await engine.publish({
		inputs: [{ name: 'greeting', type: 'string', required: true }],
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'done', kind: 'output' }
		],
		edges: [{ from: 'start', to: 'done' }]
	});
});
afterAll(() => engine.stopWorkers());
// Each test's schedules stay out of the next test's firings.
afterEach(async () => {
	await testDb.database.db.execute(sql`update triggers set enabled = false`);
});

const at = (iso: string) => new Date(iso);

function setClock(date: Date) {
	engine.ctx.clock.advance(date.getTime() - engine.ctx.now().getTime());
}

async function schedule(config: Record<string, unknown>, name = 'Schedule') {
	const input = createTriggerSchema.parse({
		kind: 'schedule',
		name,
		config: { input: { greeting: 'hi' }, ...config }
	});
	const { trigger } = await createTrigger(
		engine.ctx,
		engine.owner.principal,
		engine.workspaceId,
		workflowId,
		input,
		meta
	);
	return trigger;
}

async function storedTrigger(id: string) {
	const trigger = await triggersDb.getById(testDb.database.db, id);
	if (trigger === null) throw new Error('trigger vanished');
	return trigger;
}

/** The tick of every run a schedule started, from its idempotency keys, oldest first. */
async function firedTicks(triggerId: string): Promise<string[]> {
	const result = await testDb.database.db.execute(sql`
		select r.key from run_requests r join runs on runs.id = r.run_id
		where runs.trigger_id = ${triggerId} order by r.key
	`);
	return rows<{ key: string }>(result).map((row) => row.key.split(':').slice(2).join(':'));
}

async function runCount(triggerId: string): Promise<number> {
	const result = await testDb.database.db.execute(
		sql`select count(*)::int as n from runs where trigger_id = ${triggerId}`
	);
	return rows<{ n: number }>(result)[0]?.n ?? 0;
}

const firingsOf = (firings: ScheduleFiring[], triggerId: string) =>
	firings.filter((firing) => firing.triggerId === triggerId).map((f) => f.tick.toISOString());

describe('an every-minute schedule', () => {
	it('fires once per tick, moves to the next tick and starts a run with its input', async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const trigger = await schedule({ cron: '* * * * *' });
		expect(trigger.nextFireAt).toEqual(at('2026-01-01T00:01:00Z'));

		expect(await fireDueSchedules(engine.ctx, at('2026-01-01T00:00:30Z'))).toEqual([]);
		const firings = await fireDueSchedules(engine.ctx, at('2026-01-01T00:01:02Z'));
		expect(firings).toMatchObject([
			{ triggerId: trigger.id, tick: at('2026-01-01T00:01:00Z'), created: true }
		]);
		const stored = await storedTrigger(trigger.id);
		expect(stored.nextFireAt).toEqual(at('2026-01-01T00:02:00Z'));
		expect(stored.lastFiredAt).toEqual(at('2026-01-01T00:01:02Z'));
		expect(await fireDueSchedules(engine.ctx, at('2026-01-01T00:01:40Z'))).toEqual([]);

		await engine.startWorker();
		const run = await engine.waitFor(firings[0]?.runId ?? '');
		expect(run).toMatchObject({
			status: 'succeeded',
			trigger: 'schedule',
			triggerId: trigger.id,
			input: { greeting: 'hi' },
			output: { greeting: 'hi' }
		});
		await engine.stopWorkers();
	});

	it('is fired by a worker poll, as the runtime wires it', async () => {
		setClock(new Date());
		const trigger = await schedule({ cron: '* * * * * *' }, 'Every second');
		const worker = new Worker({
			database: testDb.database,
			bus: engine.ctx.bus,
			kinds: engine.ctx.kinds,
			logger: engine.ctx.logger,
			pollMs: 100,
			onPoll: async () => {
				await fireDueSchedules(engine.ctx, new Date());
			}
		});
		await worker.start();
		try {
			const deadline = Date.now() + scaled(10_000);
			while ((await runCount(trigger.id)) < 2 && Date.now() < deadline) {
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		} finally {
			await worker.stop(2_000);
		}
		expect(await runCount(trigger.id)).toBeGreaterThanOrEqual(2);
	});
});

describe('several workers', () => {
	it('start exactly one run per tick when they race for the same schedules', async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const schedules = await Promise.all(
			Array.from({ length: 6 }, (_, i) => schedule({ cron: '* * * * *' }, `Race ${i}`))
		);
		// On PostgreSQL the second "worker" has its own connections, as a second process would.
		const second = testDb.url ? await openDatabase({ url: testDb.url, maxConnections: 4 }) : null;
		const otherWorker = second ? { ...engine.ctx, db: second.db } : engine.ctx;
		try {
			for (const minute of [1, 2, 3]) {
				const now = at(`2026-01-01T00:0${minute}:01Z`);
				const results = await Promise.all([
					fireDueSchedules(engine.ctx, now),
					fireDueSchedules(otherWorker, now),
					fireDueSchedules(engine.ctx, now)
				]);
				const created = results.flat().filter((firing) => firing.created);
				expect(created).toHaveLength(schedules.length);
			}
		} finally {
			await second?.close();
		}
		for (const trigger of schedules) {
			expect(await runCount(trigger.id)).toBe(3);
			expect(await firedTicks(trigger.id)).toEqual([
				'2026-01-01T00:01:00.000Z',
				'2026-01-01T00:02:00.000Z',
				'2026-01-01T00:03:00.000Z'
			]);
		}
	});

	it('find the run of a tick already fired instead of starting another (a retried batch)', async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const trigger = await schedule({ cron: '* * * * *' });
		const [first] = await fireDueSchedules(engine.ctx, at('2026-01-01T00:01:05Z'));
		// As if the advance of next_fire_at had been lost after the run started.
		await triggersDb.update(testDb.database.db, engine.workspaceId, trigger.id, {
			nextFireAt: at('2026-01-01T00:01:00Z')
		});
		const again = await fireDueSchedules(engine.ctx, at('2026-01-01T00:01:30Z'));
		expect(again).toEqual([{ ...first, created: false }]);
		expect(await runCount(trigger.id)).toBe(1);
	});
});

describe('missed ticks', () => {
	// Hourly from 01:00; the scheduler comes back at 05:30, so 01:00 … 05:00 are due and 05:00 is late.
	async function afterDowntime(missed: string) {
		setClock(at('2026-01-02T00:00:00Z'));
		const trigger = await schedule({ cron: '0 * * * *', missed }, `Hourly, ${missed}`);
		const firings = await fireDueSchedules(engine.ctx, at('2026-01-02T05:30:00Z'));
		expect((await storedTrigger(trigger.id)).nextFireAt).toEqual(at('2026-01-02T06:00:00Z'));
		return firingsOf(firings, trigger.id);
	}

	it('skip: drops them all when even the latest is late', async () => {
		expect(await afterDowntime('skip')).toEqual([]);
	});

	it('skip: still runs the latest tick when it is on time', async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const trigger = await schedule({ cron: '* * * * *', missed: 'skip' });
		const firings = await fireDueSchedules(engine.ctx, at('2026-01-01T00:10:30Z'));
		expect(firingsOf(firings, trigger.id)).toEqual(['2026-01-01T00:10:00.000Z']);
	});

	it('run-once (the default): one run, for the latest due tick', async () => {
		expect(await afterDowntime('run-once')).toEqual(['2026-01-02T05:00:00.000Z']);
		expect(
			createTriggerSchema.parse({ kind: 'schedule', name: 'x', config: { cron: '* * * * *' } })
		).toMatchObject({ config: { missed: 'run-once', timezone: 'UTC', input: {} } });
	});

	it('run-all: one run per due tick, oldest first', async () => {
		expect(await afterDowntime('run-all')).toEqual([
			'2026-01-02T01:00:00.000Z',
			'2026-01-02T02:00:00.000Z',
			'2026-01-02T03:00:00.000Z',
			'2026-01-02T04:00:00.000Z',
			'2026-01-02T05:00:00.000Z'
		]);
	});

	it(`run-all: at most the ${maxCatchUpTicks} most recent ticks`, async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const trigger = await schedule({ cron: '* * * * *', missed: 'run-all' });
		const firings = firingsOf(
			await fireDueSchedules(engine.ctx, at('2026-01-02T00:00:30Z')),
			trigger.id
		);
		expect(firings).toHaveLength(maxCatchUpTicks);
		expect(firings[0]).toBe('2026-01-01T22:21:00.000Z');
		expect(firings.at(-1)).toBe('2026-01-02T00:00:00.000Z');
		expect(await runCount(trigger.id)).toBe(maxCatchUpTicks);
	});

	it('a disabled schedule does not fire, and enabling it again does not catch up', async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const trigger = await schedule({ cron: '0 * * * *', missed: 'run-all' });
		const disabled = await updateTrigger(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			trigger.id,
			{ enabled: false },
			meta
		);
		expect(disabled.trigger.nextFireAt).toBeNull();
		expect(
			firingsOf(await fireDueSchedules(engine.ctx, at('2026-01-01T05:00:00Z')), trigger.id)
		).toEqual([]);
		setClock(at('2026-01-01T05:10:00Z'));
		const enabled = await updateTrigger(
			engine.ctx,
			engine.owner.principal,
			engine.workspaceId,
			workflowId,
			trigger.id,
			{ enabled: true },
			meta
		);
		expect(enabled.trigger.nextFireAt).toEqual(at('2026-01-01T06:00:00Z'));
		expect(await runCount(trigger.id)).toBe(0);
	});

	it('a tick whose run cannot start is logged and passed, not retried forever', async () => {
		setClock(at('2026-01-01T00:00:00Z'));
		const trigger = await schedule({ cron: '* * * * *', input: { unknown: true } });
		expect(await fireDueSchedules(engine.ctx, at('2026-01-01T00:01:00Z'))).toEqual([]);
		expect((await storedTrigger(trigger.id)).nextFireAt).toEqual(at('2026-01-01T00:02:00Z'));
		expect(await runCount(trigger.id)).toBe(0);
	});
});

describe('time zones', () => {
	it("'0 9 * * *' in America/New_York is 14:00 UTC in winter and 13:00 UTC after the DST change", async () => {
		setClock(at('2026-03-06T20:00:00Z'));
		const trigger = await schedule({ cron: '0 9 * * *', timezone: 'America/New_York' });
		expect(trigger.nextFireAt).toEqual(at('2026-03-07T14:00:00Z'));
		expect(
			firingsOf(await fireDueSchedules(engine.ctx, at('2026-03-07T14:00:03Z')), trigger.id)
		).toEqual(['2026-03-07T14:00:00.000Z']);
		// Clocks go forward on Sunday 8 March 2026.
		expect((await storedTrigger(trigger.id)).nextFireAt).toEqual(at('2026-03-08T13:00:00Z'));
		expect(
			firingsOf(await fireDueSchedules(engine.ctx, at('2026-03-08T13:00:03Z')), trigger.id)
		).toEqual(['2026-03-08T13:00:00.000Z']);
		expect((await storedTrigger(trigger.id)).nextFireAt).toEqual(at('2026-03-09T13:00:00Z'));
	});

	it('and back to 14:00 UTC when DST ends (1 November 2026)', async () => {
		setClock(at('2026-10-31T20:00:00Z'));
		const trigger = await schedule({ cron: '0 9 * * *', timezone: 'America/New_York' });
		expect(trigger.nextFireAt).toEqual(at('2026-11-01T14:00:00Z'));
	});
});

describe('schedule settings', () => {
	const parse = (config: Record<string, unknown>) =>
		createTriggerSchema.safeParse({ kind: 'schedule', name: 'x', config });
	const fieldErrors = (config: Record<string, unknown>) => {
		const result = parse(config);
		return result.success
			? {}
			: Object.fromEntries(result.error.issues.map((i) => [i.path.join('.'), i.message]));
	};

	it('accept 5 fields, 6 fields (seconds first) and IANA zones', () => {
		expect(parse({ cron: '*/5 * * * *' }).success).toBe(true);
		expect(parse({ cron: '30 */5 * * * *', timezone: 'Europe/Berlin' }).success).toBe(true);
		expect(parse({ cron: '0 9 * * MON-FRI', timezone: 'Etc/UTC' }).success).toBe(true);
	});

	it('refuse other patterns, unknown zones, patterns that never fire and non-object input', () => {
		expect(fieldErrors({ cron: '* * * *' })).toHaveProperty(['config.cron']);
		expect(fieldErrors({ cron: '0 0 0 1 1 * 2030' })).toHaveProperty(['config.cron']);
		expect(fieldErrors({ cron: '61 * * * *' })).toHaveProperty(['config.cron']);
		expect(fieldErrors({ cron: '0 0 30 2 *' })).toEqual({
			'config.cron': 'This pattern never fires.'
		});
		expect(fieldErrors({ cron: '* * * * *', timezone: 'Mars/Olympus' })).toHaveProperty([
			'config.timezone'
		]);
		expect(fieldErrors({ cron: '* * * * *', input: [1] })).toHaveProperty(['config.input']);
		expect(fieldErrors({ cron: '* * * * *', missed: 'later' })).toHaveProperty(['config.missed']);
	});
});
