import jsonata from 'jsonata';
import type { RunData } from './kinds/types.ts';

/**
 * JSONata expressions and `{{ path }}` templates over a run's data.
 *
 * Expressions: the input document (`$`) is the step's input; `$input` is the run's input, `$steps`
 * maps node ids to `{ output }` of finished steps, and in a map iteration `$item` and `$index` are
 * the item and its position. Templates see the same as `input`, `steps`, `item`, `index` and `$`,
 * and only look paths up: they never evaluate anything. What they insert is data, never syntax: each
 * value is encoded for the language the template's text is in (`TemplateEncoding`).
 */

/** What expressions and templates see besides the step input. */
export interface ExpressionData extends RunData {
	item?: unknown;
	index?: number;
}

export class ExpressionError extends Error {
	override name = 'ExpressionError';
	/** The step error code: `expression_error`, or what a template's value or text got wrong. */
	readonly code: string;

	constructor(message: string, code = 'expression_error') {
		super(message);
		this.code = code;
	}
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

interface Reference {
	/** As written between the braces, for messages. */
	path: string;
	root: string;
	segments: string[];
}

type TemplatePart = string | Reference;

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

function parseReference(text: string): Reference {
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
	return { path, root, segments };
}

/**
 * How a template encodes each value it inserts, for the language its text is in. The template's
 * own text is never changed: only values are encoded.
 *
 * - `text`: as they are (titles, messages, times: plain text for people).
 * - `json`: the text must be JSON once each reference holds a value. Inside a JSON string a value
 *   is string content (escaped); anywhere else it is a JSON value (a string gets its quotes).
 * - `url`: percent-encoded (`encodeURIComponent`), except a reference that opens the template,
 *   which gives the URL's start as it is. A value may not make a `.` or `..` path segment.
 * - `form`: percent-encoded, for `application/x-www-form-urlencoded` text.
 */
export type TemplateEncoding = 'text' | 'json' | 'url' | 'form';

/** Null when every `{{ path }}` in `template` is well formed (and JSON text is JSON), else why not. */
export function checkTemplate(
	template: string,
	encoding: TemplateEncoding = 'text'
): string | null {
	try {
		const parts = parseTemplate(template);
		if (encoding === 'json') jsonPlaces(parts);
		return null;
	} catch (error) {
		if (error instanceof ExpressionError) return error.message;
		throw error;
	}
}

/**
 * Replaces each `{{ path }}` with the value found there, encoded as `options.encoding` says
 * (`text` by default). As text, missing values and null are '' and objects and arrays JSON. Only
 * own properties are followed, so nothing reaches prototypes. Lone surrogates (text that is not
 * valid Unicode) become U+FFFD in every encoding.
 */
export function renderTemplate(
	template: string,
	data: ExpressionData,
	options: { input: unknown; encoding?: TemplateEncoding }
): string {
	const roots: Record<string, unknown> = {
		input: data.input,
		steps: data.steps,
		item: data.item,
		index: data.index,
		$: options.input
	};
	const valueOf = (reference: Reference) => lookUp(roots[reference.root], reference.segments);
	const parts = parseTemplate(template);
	switch (options.encoding ?? 'text') {
		case 'text':
			return parts
				.map((part) => (typeof part === 'string' ? part : valueText(valueOf(part))))
				.join('');
		case 'json': {
			const places = jsonPlaces(parts);
			return parts
				.map((part) => {
					if (typeof part === 'string') return part;
					if (places.get(part) === 'value') return valueJson(valueOf(part));
					return JSON.stringify(valueText(valueOf(part))).slice(1, -1);
				})
				.join('');
		}
		case 'url':
			return renderUrl(parts, valueOf);
		case 'form':
			return parts
				.map((part) =>
					typeof part === 'string' ? part : encodeURIComponent(valueText(valueOf(part)))
				)
				.join('');
	}
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

// With the u flag a surrogate pair is one code point, so only lone surrogates match.
const loneSurrogates = /\p{Cs}/gu;
const hasLoneSurrogate = /\p{Cs}/u;

function wellFormed(text: string): string {
	return text.replace(loneSurrogates, '\uFFFD');
}

function valueText(value: unknown): string {
	if (value === undefined || value === null) return '';
	if (typeof value === 'string') return wellFormed(value);
	if (typeof value === 'object') return valueJson(value);
	return String(value);
}

/** The value as JSON text (missing is null), its strings and keys made well formed. */
function valueJson(value: unknown): string {
	return JSON.stringify(value ?? null, (_key, item: unknown) => {
		if (typeof item === 'string') return wellFormed(item);
		if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
		const keys = Object.keys(item);
		if (!keys.some((key) => hasLoneSurrogate.test(key))) return item;
		return Object.fromEntries(
			keys.map((key) => [wellFormed(key), (item as Record<string, unknown>)[key]])
		);
	});
}

/**
 * Where each reference of a JSON template stands: inside a string (`string`) or where a value goes
 * (`value`). Throws when the text is not JSON with `null` in each value place and nothing in each
 * string place: then no inserted value, encoded for its place, can make it anything else.
 */
function jsonPlaces(parts: readonly TemplatePart[]): Map<Reference, 'string' | 'value'> {
	const places = new Map<Reference, 'string' | 'value'>();
	let skeleton = '';
	let inString = false;
	let afterBackslash = false;
	let hexDigitsLeft = 0;
	for (const part of parts) {
		if (typeof part !== 'string') {
			if (afterBackslash || hexDigitsLeft > 0) {
				throw new ExpressionError(
					`{{ ${part.path} }} stands inside an escape sequence: put it after the escape.`,
					'invalid_json'
				);
			}
			places.set(part, inString ? 'string' : 'value');
			if (!inString) skeleton += 'null';
			continue;
		}
		skeleton += part;
		for (const char of part) {
			if (!inString) inString = char === '"';
			else if (hexDigitsLeft > 0) hexDigitsLeft -= 1;
			else if (afterBackslash) {
				afterBackslash = false;
				if (char === 'u') hexDigitsLeft = 4;
			} else if (char === '\\') afterBackslash = true;
			else if (char === '"') inString = false;
		}
	}
	try {
		JSON.parse(skeleton);
	} catch (error) {
		const reason = error instanceof Error ? error.message : String(error);
		throw new ExpressionError(
			`The text is not JSON with a value in each {{ }} outside quotes: ${reason}`,
			'invalid_json'
		);
	}
	return places;
}

const dotSegment = /^(?:\.|%2e){1,2}$/i;

function renderUrl(
	parts: readonly TemplatePart[],
	valueOf: (reference: Reference) => unknown
): string {
	const [first, opening, ...rest] = parts;
	let url = '';
	let start = 0;
	if (first === '' && opening !== undefined && typeof opening !== 'string') {
		// `{{ input.api }}/users/{{ input.id }}`: the opening value is the URL's own start.
		url = valueText(valueOf(opening));
		if (rest.some((part) => part !== '') && /[?#]/.test(url)) {
			throw new ExpressionError(
				`{{ ${opening.path} }} opens the URL, so it may not hold a query or fragment (? or #) when the URL goes on after it.`,
				'invalid_url'
			);
		}
		start = 2;
	}
	// The path segment being read and the reference (if any) inserted into it: a value must not
	// make it `.` or `..`, which the URL parser would resolve by moving up the path.
	let segment = '';
	let segmentReference: Reference | null = null;
	let inPath = true;
	const endSegment = () => {
		if (inPath && segmentReference !== null && dotSegment.test(segment)) {
			throw new ExpressionError(
				`{{ ${segmentReference.path} }} makes a "." or ".." path segment, which would move up the path.`,
				'invalid_url'
			);
		}
		segment = '';
		segmentReference = null;
	};
	for (const part of parts.slice(start)) {
		if (typeof part !== 'string') {
			const encoded = encodeURIComponent(valueText(valueOf(part)));
			url += encoded;
			segment += encoded;
			segmentReference = part;
			continue;
		}
		url += part;
		for (const char of part) {
			if (!inPath) break;
			if (char === '/' || char === '\\') endSegment();
			else if (char === '?' || char === '#') {
				endSegment();
				inPath = false;
			} else segment += char;
		}
	}
	endSegment();
	return url;
}
