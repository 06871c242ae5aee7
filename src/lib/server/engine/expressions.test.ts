import { describe, expect, it } from 'vitest';
import {
	checkExpression,
	checkTemplate,
	compileExpression,
	evaluateExpression,
	ExpressionError,
	renderTemplate,
	type ExpressionData,
	type TemplateEncoding
} from './expressions.ts';
import { awkwardValues, loneSurrogate } from './kinds/test-context.ts';

const data: ExpressionData = {
	input: { name: 'Ada', tags: ['a', 'b'] },
	steps: { fetch: { output: { title: 'Hello', items: [{ id: 1 }, { id: 2 }] } } }
};

describe('compileExpression', () => {
	it('reuses the compiled form of a source', () => {
		expect(compileExpression('$sum([1, 2])')).toBe(compileExpression('$sum([1, 2])'));
	});

	it('throws an ExpressionError with the position on syntax errors', () => {
		expect(() => compileExpression('foo(')).toThrow(ExpressionError);
		expect(() => compileExpression('foo(')).toThrow(/before end of expression \(at position 4\)/);
	});
});

describe('checkExpression', () => {
	it('is null for valid JSONata and the message otherwise', () => {
		expect(checkExpression('$.a + 1')).toBeNull();
		expect(checkExpression('')).toMatch(/Unexpected end of expression/);
		expect(checkExpression('{ "a": }')).toMatch(/at position/);
	});
});

describe('evaluateExpression', () => {
	it('takes the step input as $ and binds $input and $steps', async () => {
		const source = '{ "x": x, "name": $input.name, "title": $steps.fetch.output.title }';
		expect(await evaluateExpression(source, data, { input: { x: 5 } })).toEqual({
			x: 5,
			name: 'Ada',
			title: 'Hello'
		});
	});

	it('binds $item and $index when given', async () => {
		const result = await evaluateExpression(
			'$item.id & "@" & $index',
			{ ...data, item: { id: 'k' }, index: 3 },
			{ input: null }
		);
		expect(result).toBe('k@3');
	});

	it('gives null for no match and plain JSON for sequences', async () => {
		expect(await evaluateExpression('missing', data, { input: {} })).toBeNull();
		const ids = await evaluateExpression('$steps.fetch.output.items.id', data, { input: {} });
		expect(ids).toEqual([1, 2]);
		expect(Object.keys(ids as object)).toEqual(['0', '1']);
		const object = await evaluateExpression('{ "a": 1 }', data, { input: {} });
		expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
	});

	it('refuses functions as results', async () => {
		await expect(evaluateExpression('$string', data, { input: {} })).rejects.toThrow(
			'Expression gave a function, not data.'
		);
		await expect(
			evaluateExpression('{ "f": function($x) { $x } }', data, { input: {} })
		).rejects.toThrow(ExpressionError);
	});

	it('cannot reach prototypes or the JavaScript behind functions', async () => {
		expect(await evaluateExpression('$input.constructor', data, { input: {} })).toBeNull();
		const escape = '($c := $input.constructor.constructor; $c("return process")())';
		await expect(evaluateExpression(escape, data, { input: {} })).rejects.toThrow(
			/invoke a non-function/
		);
	});

	it('reports run-time errors as ExpressionError', async () => {
		await expect(evaluateExpression('"a" + 1', data, { input: {} })).rejects.toThrow(
			/must evaluate to a number \(at position \d+\)/
		);
	});

	it('stops runaway recursion by depth', async () => {
		const source = '($f := function($n) { 1 + $f($n + 1) }; $f(0))';
		await expect(evaluateExpression(source, data, { input: {} })).rejects.toThrow(
			/nested deeper than 1000 levels/
		);
	});

	it('stops an infinite loop by time', async () => {
		const started = Date.now();
		const source = '($f := function($x) { $f($x) }; $f(1))';
		await expect(evaluateExpression(source, data, { input: {} })).rejects.toThrow(
			'Expression took longer than 1000 ms: check for an infinite loop.'
		);
		expect(Date.now() - started).toBeLessThan(5_000);
	});

	it('stops huge sequences', async () => {
		await expect(evaluateExpression('[1..10000000]', data, { input: {} })).rejects.toThrow(
			/more than 1,000,000 items/
		);
	});

	it('leaves the data untouched', async () => {
		const before = structuredClone(data);
		await evaluateExpression('$steps.fetch.output ~> | $ | { "title": "changed" } |', data, {
			input: {}
		});
		expect(data).toEqual(before);
	});
});

describe('renderTemplate', () => {
	const render = (template: string, extra: Partial<ExpressionData> = {}, input: unknown = {}) =>
		renderTemplate(template, { ...data, ...extra }, { input });

	it('fills references to input, steps, item, index and the step input', () => {
		expect(render('Hi {{ input.name }}: {{steps.fetch.output.title}}')).toBe('Hi Ada: Hello');
		expect(render('{{ item }} #{{ index }}', { item: 'x', index: 2 })).toBe('x #2');
		expect(render('{{ $.x }} / {{ $ }}', {}, { x: 1 })).toBe('1 / {"x":1}');
	});

	it('indexes arrays both ways and writes objects and arrays as JSON', () => {
		expect(render('{{ steps.fetch.output.items[1].id }}{{ steps.fetch.output.items.0.id }}')).toBe(
			'21'
		);
		expect(render('{{ input.tags }} {{ steps.fetch.output.items[0] }}')).toBe('["a","b"] {"id":1}');
	});

	it('writes missing values and null as empty text', () => {
		expect(render('[{{ input.nope.deeper }}][{{ $.x }}][{{ item }}]', {}, { x: null })).toBe(
			'[][][]'
		);
	});

	it('follows own properties of objects and arrays only', () => {
		expect(render('{{ input.name.length }}|{{ input.toString }}|{{ input.tags.map }}')).toBe('||');
		expect(render('{{ input.tags.length }}')).toBe('2');
	});

	it('refuses prototype paths', () => {
		for (const path of ['input.__proto__', 'input.constructor.name', 'steps.prototype']) {
			expect(() => render(`{{ ${path} }}`)).toThrow(/cannot be used in a path/);
		}
		const polluted = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
		expect(() => render('{{ input.__proto__.polluted }}', { input: polluted })).toThrow(
			ExpressionError
		);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it('evaluates nothing', () => {
		expect(() => render('{{ $sum([1]) }}')).toThrow(/Invalid path/);
		expect(render('{{ input.name }}', { input: { name: '{{ input.secret }}', secret: 's' } })).toBe(
			'{{ input.secret }}'
		);
	});
});

describe('checkTemplate', () => {
	it('accepts plain text and well-formed references', () => {
		expect(checkTemplate('no references }}')).toBeNull();
		expect(checkTemplate('{{ steps.a-b.output[0] }} and {{$}}')).toBeNull();
	});

	it('reports malformed references', () => {
		expect(checkTemplate('Hi {{ input.name')).toBe('Unclosed {{ at position 3.');
		expect(checkTemplate('{{ }}')).toMatch(/^Empty/);
		expect(checkTemplate('{{ input..name }}')).toMatch(/^Invalid path "input..name"/);
		expect(checkTemplate('{{ input[x] }}')).toMatch(/^Invalid path/);
		expect(checkTemplate('{{ secrets.key }}')).toMatch(/^Unknown name "secrets"/);
	});
});

describe('renderTemplate encodings: values are data, never syntax', () => {
	const values: Record<string, string> = { ...awkwardValues, lone: loneSurrogate.value };
	const expected = (name: string) =>
		name === 'lone' ? loneSurrogate.inserted : (values[name] as string);
	const render = (template: string, encoding: TemplateEncoding, input: unknown = values) =>
		renderTemplate(template, data, { input, encoding });

	it('as text, inserts values as they are, lone surrogates made U+FFFD', () => {
		expect(render('[{{ $.quote }}|{{ $.brace }}]', 'text')).toBe('[say "hi"|} {]');
		expect(render('{{ $.lone }}', 'text')).toBe(loneSurrogate.inserted);
		expect(render('{{ $ }}', 'text', { [loneSurrogate.value]: [loneSurrogate.value] })).toBe(
			JSON.stringify({ [loneSurrogate.inserted]: [loneSurrogate.inserted] })
		);
	});

	it('as JSON, puts each value inside its string or as a JSON value, never beside them', () => {
		for (const name of Object.keys(values)) {
			const text = render(
				`{ "quoted": "{{ $.${name} }}", "bare": {{ $.${name} }}, "mixed": "<{{ $.${name} }}>" }`,
				'json'
			);
			expect(JSON.parse(text), name).toEqual({
				quoted: expected(name),
				bare: expected(name),
				mixed: `<${expected(name)}>`
			});
		}
	});

	it('as JSON, writes objects, numbers and missing values as JSON values (text inside quotes)', () => {
		const text = render(
			'{"tags": {{ input.tags }}, "id": {{ steps.fetch.output.items[1].id }}, "none": {{ $.nope }}, "said": "{{ input.tags }} {{ $.nope }}"}',
			'json'
		);
		expect(JSON.parse(text)).toEqual({ tags: ['a', 'b'], id: 2, none: null, said: '["a","b"] ' });
		expect(JSON.parse(render('{{ $ }}', 'json', { [loneSurrogate.value]: 1 }))).toEqual({
			[loneSurrogate.inserted]: 1
		});
	});

	it('as a URL, percent-encodes every value so it stays one path segment or query value', () => {
		for (const name of Object.keys(values)) {
			const url = new URL(
				render(
					`https://api.example.com/items/{{ $.${name} }}/raw?q={{ $.${name} }}&keep=1#{{ $.${name} }}`,
					'url'
				)
			);
			expect(url.origin, name).toBe('https://api.example.com');
			const segments = url.pathname.split('/').map(decodeURIComponent);
			expect(segments, name).toEqual(['', 'items', expected(name), 'raw']);
			expect([...url.searchParams], name).toEqual([
				['q', expected(name)],
				['keep', '1']
			]);
			expect(decodeURIComponent(url.hash.slice(1)), name).toBe(expected(name));
		}
	});

	it('as a URL, takes an opening value as the URL’s start, without a query if more follows', () => {
		const input = { base: 'https://api.example.com/v1', next: 'https://api.example.com/v1?page=2' };
		expect(render('{{ $.base }}/users/{{ $.next }}', 'url', input)).toBe(
			'https://api.example.com/v1/users/https%3A%2F%2Fapi.example.com%2Fv1%3Fpage%3D2'
		);
		expect(render('{{ $.next }}', 'url', input)).toBe(input.next);
		expect(() => render('{{ $.next }}&size=10', 'url', input)).toThrow(
			expect.objectContaining({ code: 'invalid_url', message: expect.stringContaining('$.next') })
		);
		expect(() => render(' {{ $.base }}', 'url', input)).not.toThrow();
		expect(render('x{{ $.base }}', 'url', input)).toBe('xhttps%3A%2F%2Fapi.example.com%2Fv1');
	});

	it('as a URL, refuses values that would make a "." or ".." path segment', () => {
		for (const [template, input] of [
			['https://x/files/{{ $.v }}/delete', { v: '..' }],
			['https://x/files/{{ $.v }}', { v: '.' }],
			['https://x/files/{{ $.a }}.{{ $.b }}/y', { a: '.', b: '' }],
			['{{ $.base }}/{{ $.v }}', { base: 'https://x', v: '..' }]
		] as const) {
			expect(() => render(template, 'url', input), template).toThrow(
				expect.objectContaining({ code: 'invalid_url', message: expect.stringContaining('..') })
			);
		}
		expect(render('https://x/files/{{ $.v }}?up={{ $.v }}#{{ $.v }}', 'url', { v: '...' })).toBe(
			'https://x/files/...?up=...#...'
		);
		expect(render('https://x/files?up={{ $.v }}', 'url', { v: '..' })).toBe(
			'https://x/files?up=..'
		);
		// Percent signs are encoded too, so %2e in a value is text, not a dot.
		expect(render('https://x/files/{{ $.v }}', 'url', { v: '%2e%2E' })).toBe(
			'https://x/files/%252e%252E'
		);
	});

	it('as form fields, percent-encodes every value so it stays one field', () => {
		for (const name of Object.keys(values)) {
			const fields = new URLSearchParams(render(`a={{ $.${name} }}&b=2`, 'form'));
			expect([...fields], name).toEqual([
				['a', expected(name)],
				['b', '2']
			]);
		}
	});
});

describe('checkTemplate for JSON', () => {
	it('accepts JSON with references as values or inside strings, and nothing else', () => {
		for (const template of [
			'{{ $ }}',
			'{ "a": {{ input.x }}, "b": "{{ input.y }}", "{{ input.key }}": [{{ index }}, "\\\\{{ item }}"] }',
			'"\\u0041{{ input.x }}"'
		]) {
			expect(checkTemplate(template, 'json'), template).toBeNull();
		}
		for (const template of [
			'{ "name": Ada }',
			'{ {{ input.key }}: 1 }',
			'{ "a": {{ input.x }}{{ input.y }} }',
			'{ "a": 1{{ input.x }} }',
			'{ "a": -{{ input.x }} }',
			'{ "a": "{{ input.x }}" ',
			'Hello {{ input.name }}'
		]) {
			expect(checkTemplate(template, 'json'), template).toMatch(/^The text is not JSON/);
		}
		expect(checkTemplate('{ "a": "\\{{ input.x }}" }', 'json')).toMatch(/inside an escape/);
		expect(checkTemplate('{ "a": "\\u00{{ input.x }}41" }', 'json')).toMatch(/inside an escape/);
		expect(checkTemplate('Hello {{ input.name }}')).toBeNull();
	});
});
