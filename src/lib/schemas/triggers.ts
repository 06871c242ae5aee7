import { Cron } from 'croner';
import { z } from 'zod';

/**
 * Triggers start runs without a person: a webhook (`POST /hooks/{id}`) or a cron schedule. These
 * schemas check what the API and the forms accept; the stored `config` column holds their output.
 */

export const triggerKinds = ['webhook', 'schedule'] as const;
export type TriggerKind = (typeof triggerKinds)[number];

const kibibyte = 1024;

export const webhookLimits = {
	waitTimeoutMs: { min: 1_000, max: 120_000, default: 30_000 },
	// The Node adapter refuses bodies over BODY_SIZE_LIMIT (512 KiB unless raised) before any route.
	maxBodyBytes: { min: 1_024, max: 512 * kibibyte, default: 256 * kibibyte },
	// Calls a second per webhook; 0 lifts the limit (the per-address refusal limit still applies).
	rateLimitPerSecond: { min: 0, max: 100_000, default: 500 }
} as const;

export const webhookConfigSchema = z.object({
	/** `token`: Authorization: Bearer; `hmac`: X-AWE-Signature over the timestamp and the body. */
	auth: z.enum(['token', 'hmac'], { error: 'Choose token or hmac.' }).default('token'),
	/** `accepted`: 202 at once; `result`: wait for the run (up to waitTimeoutMs) and return its output. */
	respond: z
		.enum(['accepted', 'result'], { error: 'Choose accepted or result.' })
		.default('accepted'),
	waitTimeoutMs: z
		.number({ error: 'Give a number of milliseconds.' })
		.int('Use a whole number.')
		.min(webhookLimits.waitTimeoutMs.min, 'At least 1000 ms.')
		.max(webhookLimits.waitTimeoutMs.max, 'At most 120000 ms.')
		.default(webhookLimits.waitTimeoutMs.default),
	maxBodyBytes: z
		.number({ error: 'Give a number of bytes.' })
		.int('Use a whole number.')
		.min(webhookLimits.maxBodyBytes.min, 'At least 1024 bytes.')
		.max(webhookLimits.maxBodyBytes.max, 'At most 512 KiB (524288 bytes).')
		.default(webhookLimits.maxBodyBytes.default),
	/** Accepted calls a second (a window of one second); 0 for no limit. */
	rateLimitPerSecond: z
		.number({ error: 'Give a number of calls a second.' })
		.int('Use a whole number.')
		.min(webhookLimits.rateLimitPerSecond.min, 'Use 0 for no limit, or a positive number.')
		.max(webhookLimits.rateLimitPerSecond.max, 'At most 100000 calls a second; 0 for no limit.')
		.default(webhookLimits.rateLimitPerSecond.default)
});

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export const missedTickPolicies = ['skip', 'run-once', 'run-all'] as const;
export type MissedTickPolicy = (typeof missedTickPolicies)[number];

/** True for IANA names the runtime knows (and `UTC`, which `Intl.supportedValuesOf` leaves out). */
export function isTimeZone(name: string): boolean {
	try {
		new Intl.DateTimeFormat('en-US', { timeZone: name });
		return true;
	} catch {
		return false;
	}
}

/** A paused croner job used only for date arithmetic: 5 fields (minute precision) or 6 (seconds first). */
export function cronFor(pattern: string, timezone: string): Cron {
	return new Cron(pattern, { timezone, paused: true, mode: '5-or-6-parts' });
}

const maxInputBytes = 64 * 1024;

export const scheduleConfigSchema = z
	.object({
		cron: z
			.string({ error: 'Required.' })
			.trim()
			.min(1, 'Required.')
			.max(200, 'Use at most 200 characters.'),
		timezone: z
			.string()
			.trim()
			.min(1, 'Required.')
			.default('UTC')
			.refine(isTimeZone, 'Use an IANA time zone such as UTC or Europe/Berlin.'),
		/** The run input, checked against the workflow's declared inputs when the schedule fires. */
		input: z
			.record(z.string(), z.unknown(), { error: 'Give a JSON object.' })
			.default({})
			.refine(
				(input) => JSON.stringify(input).length <= maxInputBytes,
				'Keep the input under 64 KiB.'
			),
		missed: z
			.enum(missedTickPolicies, { error: 'Choose skip, run-once or run-all.' })
			.default('run-once')
	})
	.superRefine((config, context) => {
		// The pattern is checked on its own merits even when the zone is refused.
		const zone = isTimeZone(config.timezone) ? config.timezone : 'UTC';
		let next: Date | null;
		try {
			next = cronFor(config.cron, zone).nextRun();
		} catch (error) {
			const reason = error instanceof Error ? error.message.replace(/^CronPattern: /, '') : '';
			context.addIssue({
				code: 'custom',
				path: ['cron'],
				// croner's own message about the number of parts also offers 7 (with years).
				message: / parts\b/.test(reason)
					? 'Use 5 fields (minute hour day month weekday), or 6 with seconds first.'
					: `Not a valid cron pattern: ${reason}`
			});
			return;
		}
		if (next === null) {
			context.addIssue({ code: 'custom', path: ['cron'], message: 'This pattern never fires.' });
		}
	});

export type ScheduleConfig = z.infer<typeof scheduleConfigSchema>;

const nameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, 'Required.')
	.max(80, 'Use at most 80 characters.');

export const createTriggerSchema = z.discriminatedUnion(
	'kind',
	[
		z.object({
			kind: z.literal('webhook'),
			name: nameSchema,
			enabled: z.boolean().default(true),
			config: webhookConfigSchema.prefault({})
		}),
		z.object({
			kind: z.literal('schedule'),
			name: nameSchema,
			enabled: z.boolean().default(true),
			config: scheduleConfigSchema
		})
	],
	{ error: 'Choose webhook or schedule.' }
);

export type CreateTriggerInput = z.infer<typeof createTriggerSchema>;

/** A partial update; `config` fields are merged into the stored config and checked for its kind. */
export const updateTriggerSchema = z.object({
	name: nameSchema.optional(),
	enabled: z.boolean({ error: 'Give true or false.' }).optional(),
	config: z.record(z.string(), z.unknown(), { error: 'Give a JSON object.' }).optional()
});

export type UpdateTriggerInput = z.infer<typeof updateTriggerSchema>;
