export const redactedMark = '[redacted]';

/** Shorter base64 fragments would match unrelated base64 data too often. */
const minFragmentLength = 6;

/**
 * The base64 characters that depend on the secret alone, for each of the three ways it can sit in
 * longer encoded data (as in `Basic base64(user:password)`); the characters at either end mix in
 * bits of its neighbours, so they are left out.
 */
function base64Fragments(bytes: Buffer): string[] {
	const fragments: string[] = [];
	for (const shift of [0, 1, 2]) {
		const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
		fragments.push(
			encoded.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6))
		);
	}
	return fragments.filter((fragment) => fragment.length >= minFragmentLength);
}

const toBase64Url = (text: string) => text.replaceAll('+', '-').replaceAll('/', '_');

/** Every spelling of a secret that output is likely to carry. */
function formsOf(secret: string): string[] {
	const bytes = Buffer.from(secret, 'utf8');
	const base64 = bytes.toString('base64');
	const fragments = base64Fragments(bytes);
	return [
		secret,
		encodeURIComponent(secret),
		// Form encoding differs from encodeURIComponent beyond spaces (`!'()~` are escaped).
		new URLSearchParams({ s: secret }).toString().slice(2),
		JSON.stringify(secret).slice(1, -1),
		base64,
		toBase64Url(base64).replace(/=+$/, ''),
		...fragments,
		...fragments.map(toBase64Url)
	];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (typeof value !== 'object' || value === null) return false;
	const prototype: unknown = Object.getPrototypeOf(value);
	return prototype === Object.prototype || prototype === null;
}

/**
 * A function that replaces every occurrence of each secret with `[redacted]`: as it is, URL-encoded,
 * JSON-escaped and base64 (or base64url) encoded, also inside longer encoded data. It takes a string
 * or a JSON value, whose strings (keys included) it redacts at any depth; it returns a copy.
 */
/** Every spelling of the secrets, longest first, and a text redactor for them. */
function spellings(secrets: readonly string[]) {
	const forms = [...new Set(secrets.filter((secret) => secret !== '').flatMap(formsOf))];
	// Longest first, so a longer spelling is replaced whole rather than around a shorter one.
	forms.sort((a, b) => b.length - a.length);
	const pattern = forms.length === 0 ? null : new RegExp(forms.map(escapeRegExp).join('|'), 'g');
	const redactText = (text: string) => (pattern ? text.replace(pattern, redactedMark) : text);
	return { forms, redactText };
}

export function createRedactor(secrets: readonly string[]): <T>(value: T) => T {
	const { forms, redactText } = spellings(secrets);
	if (forms.length === 0) return (value) => value;
	const redact = (value: unknown): unknown => {
		if (typeof value === 'string') return redactText(value);
		if (Array.isArray(value)) return value.map(redact);
		if (isPlainObject(value))
			return Object.fromEntries(
				Object.entries(value).map(([key, item]) => [redactText(key), redact(item)])
			);
		return value;
	};
	return <T>(value: T) => redact(value) as T;
}

/**
 * Redacts text that arrives in pieces (streamed model output), where a secret may be split across
 * two pieces. `push` returns what is safe to pass on now: everything but a tail that could still be
 * the start of a secret, and never a cut through one. `end` returns the rest. The secrets are read
 * on every call, since a step may conceal more of them as it goes.
 */
export function createStreamRedactor(secrets: () => readonly string[]) {
	let pending = '';
	let known: readonly string[] = [];
	let current = spellings([]);
	const refresh = () => {
		const now = secrets();
		if (now.length !== known.length) {
			known = [...now];
			current = spellings(known);
		}
		return current;
	};
	return {
		push(text: string): string {
			pending += text;
			const { forms, redactText } = refresh();
			if (forms.length === 0) {
				const out = pending;
				pending = '';
				return out;
			}
			const longest = forms[0]?.length ?? 0;
			// Hold back what could be an unfinished spelling, then any spelling the cut goes through.
			let cut = Math.max(0, pending.length - (longest - 1));
			for (let moved = true; moved && cut > 0;) {
				moved = false;
				for (const form of forms) {
					const at = pending.indexOf(form, Math.max(0, cut - form.length + 1));
					if (at !== -1 && at < cut) {
						cut = at;
						moved = true;
					}
				}
			}
			const out = redactText(pending.slice(0, cut));
			pending = pending.slice(cut);
			return out;
		},
		end(): string {
			const out = refresh().redactText(pending);
			pending = '';
			return out;
		}
	};
}
