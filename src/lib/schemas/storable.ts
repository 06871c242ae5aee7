// PostgreSQL stores neither U+0000 nor a lone UTF-16 surrogate, in `text` or in `jsonb`. What comes
// from outside (API bodies, forms) is refused with the field named; what a step produces is made
// storable by one rule: each such character becomes U+FFFD.

/** Deeper than this, a JSON value is refused: serializing it would exhaust the stack. */
export const maxJsonDepth = 64;

export const replacementCharacter = '\uFFFD';

export function isStorableText(text: string): boolean {
	return text.isWellFormed() && !text.includes('\u0000');
}

/** The text with U+0000 and every lone surrogate replaced by U+FFFD. */
export function storableText(text: string): string {
	return isStorableText(text)
		? text
		: text.toWellFormed().replaceAll('\u0000', replacementCharacter);
}

export type UnstorableProblem = { path: string; message: string };

/**
 * The first place in a JSON value PostgreSQL could not store — a key or string with U+0000 or a
 * lone surrogate, or nesting deeper than `maxJsonDepth` — or null. Walks without recursion.
 */
export function findUnstorable(value: unknown, maxDepth = maxJsonDepth): UnstorableProblem | null {
	const pending: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
	while (pending.length > 0) {
		const { value: current, path } = pending.pop()!;
		const at = path.join('.') || '(body)';
		if (typeof current === 'string') {
			if (!isStorableText(current)) return { path: at, message: unstorableMessage };
			continue;
		}
		if (current === null || typeof current !== 'object') continue;
		if (path.length >= maxDepth) {
			return { path: at, message: `Nested more than ${maxDepth} levels deep.` };
		}
		if (Array.isArray(current)) {
			current.forEach((item, index) => pending.push({ value: item, path: [...path, index] }));
			continue;
		}
		for (const [key, item] of Object.entries(current)) {
			if (!isStorableText(key)) return { path: [...path, key].join('.'), message: unstorableKey };
			pending.push({ value: item, path: [...path, key] });
		}
	}
	return null;
}

const unstorableMessage =
	'Contains a character that cannot be stored (U+0000 or an unpaired surrogate).';
const unstorableKey =
	'Has a field name with a character that cannot be stored (U+0000 or an unpaired surrogate).';

// JSON.stringify writes U+0000 and lone surrogates, and only those of interest here, as `\u`
// escapes; an escape is real when an even number of backslashes stands before it.
const unstorableEscape = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/**
 * The value as JSON PostgreSQL accepts: every U+0000 and lone surrogate, in keys and strings,
 * replaced by U+FFFD; `replaced` counts them. Throws a RangeError for a value nested too deeply
 * to serialize.
 */
export function storableJson(value: unknown): { json: string; replaced: number } {
	const json = JSON.stringify(value ?? null);
	let replaced = 0;
	const fixed = json.replace(unstorableEscape, (_match, backslashes: string) => {
		replaced += 1;
		return `${backslashes}\\ufffd`;
	});
	return { json: fixed, replaced };
}

/** `storableJson`, as a value again (the same value when nothing needed replacing). */
export function toStorable<T>(value: T): { value: T; replaced: number } {
	const { json, replaced } = storableJson(value);
	return replaced === 0 ? { value, replaced } : { value: JSON.parse(json) as T, replaced };
}

/**
 * Text a person typed as JSON (a run's input, a definition): the value, or what is wrong with it —
 * not JSON, or holding what cannot be stored (where, as a path inside the value).
 */
export function parseJsonText(
	text: string
):
	| { ok: true; value: unknown }
	| { ok: false; syntax: boolean; path: string | null; message: string } {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch (error) {
		const reason = error instanceof Error ? error.message : String(error);
		return { ok: false, syntax: true, path: null, message: `Not valid JSON: ${reason}` };
	}
	const problem = findUnstorable(value);
	if (problem === null) return { ok: true, value };
	const at = problem.path === '(body)' ? null : problem.path;
	return {
		ok: false,
		syntax: false,
		path: at,
		message: at === null ? problem.message : `${at}: ${problem.message}`
	};
}
