import { describe, expect, it } from 'vitest';
import { credentialSecrets } from './apply.ts';
import { createRedactor, createStreamRedactor, redactedMark } from './redact.ts';

const secret = 'sk-live-4f9a2b7c1d8e6f30';

describe('createRedactor', () => {
	it('replaces every occurrence of each secret in a string', () => {
		const redact = createRedactor([secret, 'other-secret-value']);
		expect(redact(`key=${secret}; again ${secret}, and other-secret-value.`)).toBe(
			`key=${redactedMark}; again ${redactedMark}, and ${redactedMark}.`
		);
	});

	it('replaces the URL-encoded, form-encoded and JSON-escaped spellings', () => {
		const tricky = 'p@ss w/rd+"q"&x=1\\(!)~';
		const redact = createRedactor([tricky]);
		expect(redact(`?a=${encodeURIComponent(tricky)}&b=1`)).toBe(`?a=${redactedMark}&b=1`);
		expect(redact(new URLSearchParams({ a: tricky, b: '1' }).toString())).toBe(
			`a=${redactedMark}&b=1`
		);
		expect(redact(JSON.stringify({ a: tricky }))).toBe(`{"a":"${redactedMark}"}`);
	});

	it('replaces the base64 and base64url forms', () => {
		const binaryish = 'a?>b~~~c///??>>';
		const redact = createRedactor([binaryish]);
		const base64 = Buffer.from(binaryish).toString('base64');
		const base64url = Buffer.from(binaryish).toString('base64url');
		expect(base64).toMatch(/[+/]/);
		expect(redact(`x ${base64} y`)).toBe(`x ${redactedMark} y`);
		expect(redact(`x ${base64url} y`)).toBe(`x ${redactedMark} y`);
	});

	it('finds the secret inside longer base64 data, whatever its offset', () => {
		const redact = createRedactor([secret]);
		for (const prefix of ['', 'a', 'ab', 'abc', 'user:']) {
			for (const suffix of ['', 'z', 'zz', '!!!']) {
				const encoded = Buffer.from(`${prefix}${secret}${suffix}`).toString('base64');
				const redacted = redact(encoded);
				expect(redacted).toContain(redactedMark);
				// What is left around the mark no longer spells the secret.
				const rest = redacted.split(redactedMark).join('');
				expect(Buffer.from(rest, 'base64').toString('latin1')).not.toContain(secret.slice(4, 10));
			}
		}
	});

	it('hides a Basic Authorization header whole, given the credential’s secrets', () => {
		const credential = { kind: 'basic', username: 'ada', password: 'correct horse' } as const;
		const redact = createRedactor(credentialSecrets(credential));
		const header = `Basic ${Buffer.from('ada:correct horse').toString('base64')}`;
		expect(redact({ authorization: header })).toEqual({ authorization: `Basic ${redactedMark}` });
	});

	it('redacts strings deep inside JSON values, keys included, and leaves the input alone', () => {
		const redact = createRedactor([secret]);
		const input = {
			status: 401,
			ok: false,
			nothing: null,
			headers: { authorization: `Bearer ${secret}` },
			items: [secret, 1, true, { [secret]: [`nested ${secret}`] }]
		};
		const copy = structuredClone(input);
		expect(redact(input)).toEqual({
			status: 401,
			ok: false,
			nothing: null,
			headers: { authorization: `Bearer ${redactedMark}` },
			items: [redactedMark, 1, true, { [redactedMark]: [`nested ${redactedMark}`] }]
		});
		expect(input).toEqual(copy);
	});

	it('replaces a longer secret whole when a shorter one is part of it', () => {
		const redact = createRedactor(['abc123', 'abc123-and-more']);
		expect(redact('abc123-and-more / abc123')).toBe(`${redactedMark} / ${redactedMark}`);
	});

	it('treats regular expression characters literally', () => {
		const redact = createRedactor(['a.b*c(d)[e]$']);
		expect(redact('axbbbcde a.b*c(d)[e]$')).toBe(`axbbbcde ${redactedMark}`);
	});

	it('changes nothing without secrets, and ignores empty ones', () => {
		const value = { text: 'plain', list: ['a'] };
		expect(createRedactor([])(value)).toBe(value);
		expect(createRedactor([''])('plain text')).toBe('plain text');
	});

	it('leaves values that are not JSON (dates) as they are', () => {
		const date = new Date(0);
		expect(createRedactor([secret])({ at: date }).at).toBe(date);
	});
});

describe('createStreamRedactor', () => {
	const text = `Your key is ${secret}, and again: ${secret}. Done.`;

	it('never lets a secret through, however the text is cut into pieces', () => {
		for (let size = 1; size <= text.length; size++) {
			const stream = createStreamRedactor(() => [secret]);
			const pieces: string[] = [];
			for (let at = 0; at < text.length; at += size)
				pieces.push(stream.push(text.slice(at, at + size)));
			pieces.push(stream.end());
			const joined = pieces.join('');
			expect(joined).toBe(createRedactor([secret])(text));
			// No piece (nor any two neighbours) holds a fragment that spells the secret's start.
			for (const piece of pieces) expect(piece).not.toContain(secret.slice(0, 8));
		}
	});

	it('passes text straight through while nothing is concealed, and picks up secrets added later', () => {
		const concealed: string[] = [];
		const stream = createStreamRedactor(() => concealed);
		expect(stream.push('hello ')).toBe('hello ');
		concealed.push(secret);
		const out =
			stream.push(`${secret.slice(0, 5)}`) + stream.push(`${secret.slice(5)} bye`) + stream.end();
		expect(out).toBe(`${redactedMark} bye`);
	});
});
