import { z } from 'zod';

const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const shortPattern = /^(\d+)(ms|s|m|h|d)$/;
// PnDTnHnMnS: every part optional, but not all of them, and a `T` needs a time part after it.
const isoPattern = /^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** `500ms`, `30s`, `5m`, `2h`, `1d` or ISO-8601 `PnDTnHnMnS`, in milliseconds; null if malformed. */
export function parseDuration(text: string): number | null {
	let ms: number;
	const short = shortPattern.exec(text);
	const iso = isoPattern.exec(text);
	if (short) {
		ms = Number(short[1]) * unitMs[short[2] as keyof typeof unitMs];
	} else if (iso) {
		const part = (index: number) => Number(iso[index] ?? 0);
		ms = part(1) * unitMs.d + part(2) * unitMs.h + part(3) * unitMs.m + part(4) * unitMs.s;
	} else {
		return null;
	}
	return Number.isFinite(ms) ? Math.round(ms) : null;
}

const maxWaitMs = 365 * unitMs.d;

/** A config field holding a duration: written as text, parsed to milliseconds. */
export const durationSchema = z
	.string({ error: 'Enter a duration such as 30s.' })
	.transform((text, context) => {
		const ms = parseDuration(text);
		if (ms === null || ms <= 0 || ms > maxWaitMs) {
			context.addIssue({
				code: 'custom',
				message: 'Use a duration from 1ms to 365d, such as 30s, 5m, 2h, 1d or PT1H30M.'
			});
			return z.NEVER;
		}
		return ms;
	});
