import { cronFor, scheduleConfigSchema, type ScheduleConfig } from '../../schemas/triggers.ts';
import type { Trigger } from '../db/schema/index.ts';
import * as triggers from '../db/triggers.ts';
import type { EventBus } from '../bus/bus.ts';
import { systemPrincipal, type RequestMeta } from '../principal.ts';
import { startWorkflowRun, type RunStarterContext } from './runs.ts';

/**
 * Missed ticks. A due tick is *on time* when the scheduler sees it within `onTimeGraceMs`; older ones
 * were missed (no worker polling: downtime, a long pause). Each schedule chooses what happens then:
 * - `skip`: the latest due tick runs only if it is on time; every other due tick is dropped.
 * - `run-once` (default): the latest due tick runs, on time or not; the others are dropped.
 * - `run-all`: every due tick runs, oldest first, but only the `maxCatchUpTicks` most recent.
 * A disabled schedule has no due ticks: enabling it again schedules from that moment on.
 */
export const onTimeGraceMs = 60_000;
export const maxCatchUpTicks = 100;

// Per transaction; a poll takes batches until one comes back short (or `maxBatches`, to stay brief).
const batchSize = 20;
const maxBatches = 25;

const schedulerMeta: RequestMeta = { ip: null, userAgent: 'awe-scheduler' };

/** What firing needs; a worker process has no full service context (no keys, no limiter). */
export type SchedulerContext = RunStarterContext;

export interface ScheduleFiring {
	triggerId: string;
	tick: Date;
	runId: string;
	/** False when the tick's run already existed (another worker, or an earlier attempt, started it). */
	created: boolean;
}

/** The first tick strictly after `now`; null when the pattern never fires again. */
export function nextTick(
	config: Pick<ScheduleConfig, 'cron' | 'timezone'>,
	now: Date
): Date | null {
	return cronFor(config.cron, config.timezone).nextRun(now);
}

/** The due ticks (from `nextFireAt` up to `now`) that the missed-tick policy runs, oldest first. */
export function ticksToRun(config: ScheduleConfig, nextFireAt: Date, now: Date): Date[] {
	const wanted = config.missed === 'run-all' ? maxCatchUpTicks : 1;
	const due = cronFor(config.cron, config.timezone)
		.previousRuns(wanted, new Date(now.getTime() + 1))
		.filter((tick) => tick >= nextFireAt)
		.reverse();
	const latest = due.at(-1) ?? nextFireAt;
	if (config.missed === 'run-all') return due.length > 0 ? due : [latest];
	if (config.missed === 'run-once') return [latest];
	return now.getTime() - latest.getTime() <= onTimeGraceMs ? [latest] : [];
}

/** Holds publishes until the transaction that produced the events has committed. */
function deferredBus(bus: EventBus) {
	const held: [channel: string, message: unknown][] = [];
	const deferred: EventBus = {
		kind: bus.kind,
		publish: async (channel, message) => {
			held.push([channel, message]);
		},
		subscribe: (channel, handler) => bus.subscribe(channel, handler),
		ping: () => bus.ping(),
		close: () => bus.close()
	};
	return {
		bus: deferred,
		async flush(ctx: SchedulerContext) {
			for (const [channel, message] of held.splice(0)) {
				await bus
					.publish(channel, message)
					.catch((error: unknown) =>
						ctx.logger.warn({ err: error }, 'publishing run events failed')
					);
			}
		}
	};
}

/**
 * Starts the runs of every schedule due at `now` and moves each to its next tick. Each batch is one
 * transaction: the schedules are locked (SKIP LOCKED, so workers share them), their runs started and
 * `next_fire_at` advanced together. A run's idempotency key is `schedule:{triggerId}:{tick}`, so a
 * tick can never start two runs, even if two workers or a retried batch reach it.
 */
export async function fireDueSchedules(
	ctx: SchedulerContext,
	now: Date
): Promise<ScheduleFiring[]> {
	const firings: ScheduleFiring[] = [];
	for (let batch = 0; batch < maxBatches; batch += 1) {
		const events = deferredBus(ctx.bus);
		const { claimed, fired } = await ctx.db.transaction(async (tx) => {
			const due = await triggers.claimDueSchedules(tx, now, batchSize);
			const fired: ScheduleFiring[] = [];
			for (const trigger of due) {
				fired.push(...(await fireSchedule({ ...ctx, db: tx, bus: events.bus }, trigger, now)));
			}
			return { claimed: due.length, fired };
		});
		await events.flush(ctx);
		firings.push(...fired);
		if (claimed < batchSize) break;
	}
	return firings;
}

async function fireSchedule(
	ctx: SchedulerContext,
	trigger: Trigger,
	now: Date
): Promise<ScheduleFiring[]> {
	const log = ctx.logger.child({ triggerId: trigger.id, workflowId: trigger.workflowId });
	const parsed = scheduleConfigSchema.safeParse(trigger.config);
	if (!parsed.success || trigger.nextFireAt === null) {
		log.error({ issues: parsed.error?.issues }, 'unreadable schedule: it will not fire again');
		await triggers.update(ctx.db, trigger.workspaceId, trigger.id, { nextFireAt: null });
		return [];
	}
	const config = parsed.data;
	const fired: ScheduleFiring[] = [];
	for (const tick of ticksToRun(config, trigger.nextFireAt, now)) {
		try {
			// A savepoint: a tick that cannot start (nothing published, input no longer valid) undoes
			// only itself.
			const { run, created } = await ctx.db.transaction((savepoint) => {
				return startWorkflowRun(
					{ ...ctx, db: savepoint },
					systemPrincipal('schedule'),
					trigger.workspaceId,
					{
						workflowId: trigger.workflowId,
						input: config.input,
						idempotencyKey: `schedule:${trigger.id}:${tick.toISOString()}`,
						trigger: 'schedule',
						triggerId: trigger.id
					},
					schedulerMeta
				);
			});
			fired.push({ triggerId: trigger.id, tick, runId: run.id, created });
		} catch (error) {
			log.warn({ err: error, tick: tick.toISOString() }, 'scheduled run could not start');
		}
	}
	await triggers.update(ctx.db, trigger.workspaceId, trigger.id, {
		nextFireAt: nextTick(config, now),
		...(fired.length > 0 ? { lastFiredAt: now } : {})
	});
	return fired;
}
