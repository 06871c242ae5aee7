import { describe, expect, it } from 'vitest';
import {
	findUnstorable,
	parseJsonText,
	storableJson,
	storableText,
	toStorable
} from './storable.ts';

describe('storable text and JSON', () => {
	it('replaces U+0000 and lone surrogates only, keeping pairs and look-alike escapes', () => {
		expect(storableText('a\u0000b\uD800c\uDC00d😀')).toBe('a\uFFFDb\uFFFDc\uFFFDd😀');
		const value = {
			// A backslash followed by the text "u0000" is not U+0000, and stays as it is.
			literal: '\\u0000 and \\\\u0000',
			nul: '\u0000',
			['k\uDBFF']: 'high surrogate in a key'
		};
		const { json, replaced } = storableJson(value);
		expect(replaced).toBe(2);
		expect(JSON.parse(json)).toEqual({
			literal: '\\u0000 and \\\\u0000',
			nul: '\uFFFD',
			['k\uFFFD']: 'high surrogate in a key'
		});
		const same = { ok: 'plain 😀' };
		expect(toStorable(same).value).toBe(same);
	});

	it('finds the first unstorable field or excessive nesting, without recursion', () => {
		expect(findUnstorable({ a: [{ b: 'fine' }, { c: 'bad\u0000' }] })).toEqual({
			path: 'a.1.c',
			message: expect.stringContaining('U+0000')
		});
		expect(findUnstorable({ ['bad\uD800']: 1 })?.path).toBe('bad\uD800');
		let deep: unknown = 1;
		for (let i = 0; i < 100_000; i += 1) deep = [deep];
		expect(findUnstorable(deep)?.message).toMatch(/Nested more than 64 levels/);
		expect(findUnstorable({ fine: ['x', 1, null, true] })).toBeNull();
	});

	it('reads typed JSON, saying what is wrong and where', () => {
		expect(parseJsonText('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
		expect(parseJsonText('{"a": ')).toMatchObject({ ok: false, path: null });
		expect(parseJsonText('{"a": {"b": "x\\u0000"}}')).toMatchObject({ ok: false, path: 'a.b' });
	});
});
