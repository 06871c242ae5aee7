import { describe, expect, it } from 'vitest';
import {
	checkExpression,
	checkTemplate,
	compileExpression,
	evaluateExpression,
	ExpressionError,
	renderTemplate,
	type ExpressionData
} from './expressions.ts';

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
