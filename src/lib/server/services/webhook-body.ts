import { MIMEType } from 'node:util';
import { ServiceError } from '../errors.ts';

/**
 * How the body of `POST /hooks/{id}` becomes the run input (docs/triggers.md, "What the body
 * becomes"): JSON as it is, form fields as strings, plain text as `{ text }`. The format is chosen
 * from the Content-Type before the body is read; the body is parsed once the call is authenticated.
 */

export const webhookBodyLimits = {
	/** Form fields in one call, repeats counted. */
	maxFields: 1_000,
	/** Objects and arrays inside one another, the body itself included. */
	maxJsonDepth: 32
} as const;

export type WebhookBodyFormat =
	| { kind: 'json' }
	| { kind: 'form' }
	/** The whole Content-Type: the platform's parser needs its boundary. */
	| { kind: 'multipart'; contentType: string }
	/** A WHATWG Encoding Standard name (`utf-8`, `windows-1252`, …). */
	| { kind: 'text'; encoding: string };

/** A call refused for its media type before its body is read: the route closes the connection. */
export class WebhookRequestError extends Error {
	override name = 'WebhookRequestError';
	readonly status = 415;
	readonly type = 'unsupported-media-type';
}

const formKinds = new Map<string, 'form' | 'multipart' | 'text'>([
	['application/x-www-form-urlencoded', 'form'],
	['multipart/form-data', 'multipart'],
	['text/plain', 'text']
]);
const acceptedList =
	'application/json, application/x-www-form-urlencoded, multipart/form-data or text/plain';

/** The encoding a `charset` parameter names (UTF-8 without one); an unknown name is refused. */
function encodingOf(charset: string | null): string {
	if (charset === null) return 'utf-8';
	try {
		return new TextDecoder(charset).encoding;
	} catch {
		throw new WebhookRequestError(`Unknown charset "${charset.slice(0, 40)}": send UTF-8.`);
	}
}

/**
 * The format of a body with this Content-Type, or 415 naming the accepted types. JSON (also any
 * `+json` type), urlencoded and multipart forms are UTF-8 by their standards; text may be in any
 * charset of the Encoding Standard.
 */
export function webhookBodyFormat(contentType: string | null): WebhookBodyFormat {
	// Made only when thrown: an error captures a stack trace, on every call otherwise.
	const unsupported = () => new WebhookRequestError(`Send the body as ${acceptedList}.`);
	let mime: MIMEType;
	try {
		mime = new MIMEType(contentType ?? '');
	} catch {
		throw unsupported();
	}
	const essence = mime.essence;
	const kind =
		essence === 'application/json' || /^application\/[^/]+\+json$/.test(essence)
			? 'json'
			: formKinds.get(essence);
	if (kind === undefined) throw unsupported();
	const encoding = encodingOf(mime.params.get('charset'));
	if (kind === 'text') return { kind, encoding };
	if (encoding !== 'utf-8')
		throw new WebhookRequestError(`${essence} is read as UTF-8: send charset=utf-8, or none.`);
	return kind === 'multipart' ? { kind, contentType: String(contentType) } : { kind };
}

// PostgreSQL's jsonb cannot hold U+0000 or half of a surrogate pair: such input is refused here,
// naming where it is, rather than failing (or being altered) on its way into the database.
const unstorableCharacter =
	/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorableCharacters = new RegExp(unstorableCharacter.source, 'g');

/** A name as an error shows it: NUL and lone surrogates written as `\uXXXX`. */
const shown = (name: string) =>
	name.replace(unstorableCharacters, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function refuseUnstorable(where: string, text: string, what: 'value' | 'name'): void {
	const found = unstorableCharacter.exec(text)?.[0];
	if (found === undefined) return;
	const character = found === '\0' ? 'a NUL character (U+0000)' : 'an unpaired UTF-16 surrogate';
	throw new ServiceError('invalid', 'The body holds text that cannot be stored.', {
		fields: { [where]: `The ${what} contains ${character}.` }
	});
}

function decode(body: Uint8Array, encoding: string): string {
	try {
		return new TextDecoder(encoding, { fatal: true }).decode(body);
	} catch {
		const name = encoding === 'utf-8' ? 'UTF-8' : encoding;
		throw new ServiceError('invalid', `The body is not valid ${name}.`);
	}
}

function checkJson(value: unknown, path: string, depth: number): void {
	if (typeof value === 'string') return refuseUnstorable(path, value, 'value');
	if (value === null || typeof value !== 'object') return;
	if (depth > webhookBodyLimits.maxJsonDepth)
		throw new ServiceError(
			'invalid',
			`The JSON is nested more than ${webhookBodyLimits.maxJsonDepth} levels deep.`
		);
	if (Array.isArray(value)) {
		value.forEach((item, index) => checkJson(item, `${path}[${index}]`, depth + 1));
		return;
	}
	for (const [key, item] of Object.entries(value)) {
		const at = path === '' ? shown(key) : `${path}.${shown(key)}`;
		refuseUnstorable(at, key, 'name');
		checkJson(item, at, depth + 1);
	}
}

function jsonInput(body: Uint8Array): Record<string, unknown> {
	let input: unknown;
	try {
		input = JSON.parse(decode(body, 'utf-8'));
	} catch (error) {
		if (error instanceof ServiceError) throw error;
		throw new ServiceError('invalid', 'The body is not valid JSON.');
	}
	if (input === null || typeof input !== 'object' || Array.isArray(input))
		throw new ServiceError('invalid', 'The body must be a JSON object: it is the run input.');
	checkJson(input, '', 1);
	return input as Record<string, unknown>;
}

const tooManyFields = () =>
	new ServiceError('invalid', `Send at most ${webhookBodyLimits.maxFields} form fields.`);

/**
 * As the URL Standard's form parser (`+` is a space, a `%` without two hex digits stays), except
 * that percent-encoded bytes that are not UTF-8 are refused: URLSearchParams would replace them.
 */
function urlEncodedFields(body: Uint8Array): [string, string][] {
	const pairs = decode(body, 'utf-8')
		.split('&')
		.filter((pair) => pair !== '');
	if (pairs.length > webhookBodyLimits.maxFields) throw tooManyFields();
	const percentDecode = (part: string) => {
		try {
			return decodeURIComponent(part.replaceAll('+', ' ').replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
		} catch {
			throw new ServiceError('invalid', 'The form holds percent-encoded bytes that are not UTF-8.');
		}
	};
	return pairs.map((pair) => {
		const equals = pair.indexOf('=');
		if (equals === -1) return [percentDecode(pair), ''];
		return [percentDecode(pair.slice(0, equals)), percentDecode(pair.slice(equals + 1))];
	});
}

/** Fields only, read by the platform's parser; a file is refused, naming its field. */
async function multipartFields(body: Uint8Array, contentType: string): Promise<[string, string][]> {
	let form: FormData;
	try {
		const request = new Request('http://webhook.invalid/', {
			method: 'POST',
			body: new Uint8Array(body),
			headers: { 'content-type': contentType }
		});
		form = await request.formData();
	} catch {
		throw new ServiceError('invalid', 'The body is not valid multipart/form-data.');
	}
	const fields: [string, string][] = [];
	for (const [name, value] of form) {
		if (typeof value !== 'string')
			throw new ServiceError('invalid', 'Files are not accepted: send form fields only.', {
				fields: { [shown(name)]: 'This is a file.' }
			});
		fields.push([name, value]);
	}
	if (fields.length > webhookBodyLimits.maxFields) throw tooManyFields();
	// The parser replaces bytes that are not UTF-8; with no file in it, the whole body must be UTF-8.
	decode(body, 'utf-8');
	return fields;
}

/** Each field a string; a name sent more than once, or ending in `[]` (dropped): an array. */
function fieldsInput(fields: [string, string][]): Record<string, unknown> {
	const input = new Map<string, string | string[]>();
	for (const [sentName, value] of fields) {
		const listed = sentName.length > 2 && sentName.endsWith('[]');
		const name = listed ? sentName.slice(0, -2) : sentName;
		refuseUnstorable(shown(sentName), sentName, 'name');
		refuseUnstorable(shown(name), value, 'value');
		const earlier = input.get(name);
		if (earlier === undefined) input.set(name, listed ? [value] : value);
		else if (Array.isArray(earlier)) earlier.push(value);
		else input.set(name, [earlier, value]);
	}
	// fromEntries defines own properties: a field named __proto__ stays a field.
	return Object.fromEntries(input);
}

/** The run input a body in this format gives, or 400 (`invalid`) saying what is wrong with it. */
export async function webhookRunInput(
	format: WebhookBodyFormat,
	body: Uint8Array
): Promise<Record<string, unknown>> {
	switch (format.kind) {
		case 'json':
			return jsonInput(body);
		case 'form':
			return fieldsInput(urlEncodedFields(body));
		case 'multipart':
			return fieldsInput(await multipartFields(body, format.contentType));
		case 'text': {
			const text = decode(body, format.encoding);
			refuseUnstorable('text', text, 'value');
			return { text };
		}
	}
}
