import jsonata from 'jsonata';
import type { RunData } from './kinds/types.ts';

/**
 * JSONata expressions and `{{ path }}` templates over a run's data.
 *
 * Expressions: the input document (`$`) is the step's input; `$input` is the run's input, `$steps`
 * maps node ids to `{ output }` of finished steps, and in a map iteration `$item` and `$index` are
 * the item and its position. Templates see the same as `input`, `steps`, `item`, `index` and `$`,
 * and only look paths up: they never evaluate anything.
 */

/** What expressions and templates see besides the step input. */
export interface ExpressionData extends RunData {
	item?: unknown;
	index?: number;
}

export class ExpressionError extends Error {
	override name = 'ExpressionError';
}

const timeoutMs = 1_000;
// JSONata counts nested evaluations: each call of a recursive function takes about four levels.
const maxDepth = 1_000;
// Bounds memory within the time limit: `[1..10000000]` alone builds a 10-million-item array.
const maxSequence = 1_000_000;
const guardrails = { timeout: timeoutMs, stack: maxDepth, sequence: maxSequence };

const guardrailMessages: Record<string, string> = {
	D1011: `Expression nested deeper than ${maxDepth} levels: check for runaway recursion.`,
	D1012: `Expression took longer than ${timeoutMs} ms: check for an infinite loop.`,
	D2015: `Expression built a sequence of more than ${maxSequence.toLocaleString('en')} items.`
};

const cacheSize = 500;
const compiled = new Map<string, jsonata.Expression>();

/** Compiles JSONata, reusing the compiled form of recently used sources. */
export function compileExpression(source: string): jsonata.Expression {
	const cached = compiled.get(source);
	if (cached) {
		// Re-inserting moves the entry last, so the first key is always the least recently used.
		compiled.delete(source);
		compiled.set(source, cached);
		return cached;
	}
	let expression: jsonata.Expression;
	try {
		expression = jsonata(source, guardrails);
	} catch (error) {
		throw new ExpressionError(describeError(error));
	}
	compiled.set(source, expression);
	if (compiled.size > cacheSize) compiled.delete(compiled.keys().next().value as string);
	return expression;
}

/** Null when `source` compiles, else why not. */
export function checkExpression(source: string): string | null {
	try {
		compileExpression(source);
		return null;
	} catch (error) {
		if (error instanceof ExpressionError) return error.message;
		throw error;
	}
}

/** Evaluates `source` with `options.input` as the step input; the result is plain JSON. */
export async function evaluateExpression(
	source: string,
	data: ExpressionData,
	options: { input: unknown }
): Promise<unknown> {
	const expression = compileExpression(source);
	const bindings = { input: data.input, steps: data.steps, item: data.item, index: data.index };
	let result: unknown;
	try {
		result = await expression.evaluate(options.input, bindings);
	} catch (error) {
		throw new ExpressionError(describeError(error));
	}
	return toJson(result);
}

function describeError(error: unknown): string {
	if (typeof error !== 'object' || error === null) return String(error);
	const { code, message, position } = error as {
		code?: unknown;
		message?: unknown;
		position?: unknown;
	};
	const guardrail = typeof code === 'string' ? guardrailMessages[code] : undefined;
	if (guardrail) return guardrail;
	const text = typeof message === 'string' ? message.replace(/\.$/, '') : 'Invalid expression';
	return typeof position === 'number' ? `${text} (at position ${position}).` : `${text}.`;
}

// The same test JSONata applies: its functions are plain objects flagged like this.
function isFunction(value: unknown): boolean {
	if (typeof value === 'function') return true;
	if (typeof value !== 'object' || value === null) return false;
	const flags = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
	return flags._jsonata_function === true || flags._jsonata_lambda === true;
}

// JSONata results carry sequence flags and null-prototype objects; outputs must be plain JSON.
function toJson(value: unknown): unknown {
	if (value === undefined) return null;
	let text: string;
	try {
		text = JSON.stringify(value, (_key, item: unknown) => {
			if (isFunction(item)) throw new ExpressionError('Expression gave a function, not data.');
			return item;
		});
	} catch (error) {
		if (error instanceof ExpressionError) throw error;
		throw new ExpressionError(`Expression result is not JSON: ${describeError(error)}`);
	}
	return JSON.parse(text);
}

const templateRoots = ['input', 'steps', 'item', 'index', '$'];
const forbiddenSegments = new Set(['__proto__', 'constructor', 'prototype']);
const pathPattern = /^(\$|[A-Za-z_][\w-]*)((?:\.[\w-]+|\[\d+\])*)$/;
const segmentPattern = /\.([\w-]+)|\[(\d+)\]/g;

type TemplatePart = string | { root: string; segments: string[] };

function parseTemplate(template: string): TemplatePart[] {
	const parts: TemplatePart[] = [];
	let position = 0;
	while (position < template.length) {
		const open = template.indexOf('{{', position);
		if (open === -1) {
			parts.push(template.slice(position));
			break;
		}
		const close = template.indexOf('}}', open + 2);
		if (close === -1) throw new ExpressionError(`Unclosed {{ at position ${open}.`);
		parts.push(template.slice(position, open), parseReference(template.slice(open + 2, close)));
		position = close + 2;
	}
	return parts;
}

function parseReference(text: string): TemplatePart {
	const path = text.trim();
	if (path === '') throw new ExpressionError('Empty {{ }}: put a path inside, such as input.name.');
	const match = pathPattern.exec(path);
	if (!match) {
		throw new ExpressionError(
			`Invalid path "${path}": use names joined by dots and [0]-style indexes, such as steps.fetch.output.items[0].`
		);
	}
	const root = match[1] as string;
	if (!templateRoots.includes(root)) {
		throw new ExpressionError(
			`Unknown name "${root}" in {{ ${path} }}: start with input, steps, item, index or $.`
		);
	}
	const segments = [...(match[2] ?? '').matchAll(segmentPattern)].map(
		(segment) => (segment[1] ?? segment[2]) as string
	);
	const forbidden = segments.find((segment) => forbiddenSegments.has(segment));
	if (forbidden !== undefined)
		throw new ExpressionError(`"${forbidden}" cannot be used in a path.`);
	return { root, segments };
}

/** Null when every `{{ path }}` in `template` is well formed, else what is wrong. */
export function checkTemplate(template: string): string | null {
	try {
		parseTemplate(template);
		return null;
	} catch (error) {
		if (error instanceof ExpressionError) return error.message;
		throw error;
	}
}

/**
 * Replaces each `{{ path }}` with the value found there: missing values and null become '', objects
 * and arrays JSON. Only own properties are followed, so nothing reaches prototypes.
 */
export function renderTemplate(
	template: string,
	data: ExpressionData,
	options: { input: unknown }
): string {
	const roots: Record<string, unknown> = {
		input: data.input,
		steps: data.steps,
		item: data.item,
		index: data.index,
		$: options.input
	};
	return parseTemplate(template)
		.map((part) =>
			typeof part === 'string' ? part : formatValue(lookUp(roots[part.root], part.segments))
		)
		.join('');
}

function lookUp(root: unknown, segments: readonly string[]): unknown {
	let current = root;
	for (const segment of segments) {
		if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) {
			return undefined;
		}
		current = (current as Record<string, unknown>)[segment];
	}
	return current;
}

function formatValue(value: unknown): string {
	if (value === undefined || value === null) return '';
	if (typeof value === 'string') return value;
	if (typeof value === 'object') return JSON.stringify(value);
	return String(value);
}
