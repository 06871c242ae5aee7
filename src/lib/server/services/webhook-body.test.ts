import { describe, expect, it } from 'vitest';
import { ServiceError } from '../errors.ts';
import {
	WebhookRequestError,
	webhookBodyFormat,
	webhookBodyLimits,
	webhookRunInput,
	type WebhookBodyFormat
} from './webhook-body.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

/** The run input a body gives, read as its Content-Type says. */
const inputOf = (contentType: string, body: string | Uint8Array) =>
	webhookRunInput(webhookBodyFormat(contentType), typeof body === 'string' ? utf8(body) : body);

/** The 400 a body is refused with: its message and the fields it names. */
async function refusal(contentType: string, body: string | Uint8Array) {
	const error = await inputOf(contentType, body).then(
		() => null,
		(reason: unknown) => reason
	);
	expect(error).toBeInstanceOf(ServiceError);
	const { type, message, fields } = error as ServiceError;
	expect(type).toBe('invalid');
	return { message, fields };
}

function unsupported(contentType: string | null): string {
	try {
		webhookBodyFormat(contentType);
	} catch (error) {
		expect(error).toBeInstanceOf(WebhookRequestError);
		expect(error).toMatchObject({ status: 415, type: 'unsupported-media-type' });
		return (error as Error).message;
	}
	throw new Error(`${contentType} was accepted`);
}

const boundary = 'awe-boundary';
const multipart = `multipart/form-data; boundary=${boundary}`;
function multipartBody(parts: { name: string; value: string; filename?: string }[]): string {
	return (
		parts
			.map(({ name, value, filename }) => {
				const file = filename === undefined ? '' : `; filename="${filename}"`;
				return `--${boundary}\r\ncontent-disposition: form-data; name="${name}"${file}\r\n\r\n${value}\r\n`;
			})
			.join('') + `--${boundary}--\r\n`
	);
}

describe('webhookBodyFormat', () => {
	it.each([
		['application/json', { kind: 'json' }],
		['Application/JSON; charset=UTF-8', { kind: 'json' }],
		['application/cloudevents+json; charset=utf8', { kind: 'json' }],
		['application/vnd.github+json', { kind: 'json' }],
		['application/x-www-form-urlencoded; charset=utf-8', { kind: 'form' }],
		[multipart, { kind: 'multipart', contentType: multipart }],
		['text/plain', { kind: 'text', encoding: 'utf-8' }],
		['text/plain; charset=ISO-8859-1', { kind: 'text', encoding: 'windows-1252' }],
		['TEXT/PLAIN;charset="Shift_JIS"', { kind: 'text', encoding: 'shift_jis' }]
	] satisfies [string, WebhookBodyFormat][])('reads %s', (contentType, format) => {
		expect(webhookBodyFormat(contentType)).toEqual(format);
	});

	it.each([
		null,
		'',
		'application/xml',
		'application/jsonp',
		'application/octet-stream',
		'text/html',
		'text/csv',
		'json'
	])('answers 415 naming the accepted types for %s', (contentType) => {
		expect(unsupported(contentType)).toBe(
			'Send the body as application/json, application/x-www-form-urlencoded, multipart/form-data or text/plain.'
		);
	});

	it('refuses a charset it does not know, and JSON or forms not in UTF-8', () => {
		expect(unsupported('text/plain; charset=klingon')).toBe(
			'Unknown charset "klingon": send UTF-8.'
		);
		expect(unsupported('application/json; charset=iso-8859-1')).toMatch(/read as UTF-8/);
		expect(unsupported('application/x-www-form-urlencoded; charset=latin1')).toMatch(
			/read as UTF-8/
		);
		expect(unsupported('multipart/form-data; boundary=x; charset=utf-16')).toMatch(/read as UTF-8/);
	});
});

describe('JSON bodies', () => {
	it('are the run input as they are', async () => {
		expect(await inputOf('application/json', '{"name":"ada","n":[1,{"x":null}]}')).toEqual({
			name: 'ada',
			n: [1, { x: null }]
		});
		expect(await inputOf('application/json', '\uFEFF{"bom":true}')).toEqual({ bom: true });
	});

	it('must be a JSON object in UTF-8', async () => {
		expect((await refusal('application/json', '{"name":')).message).toBe(
			'The body is not valid JSON.'
		);
		expect((await refusal('application/json', '["ada"]')).message).toMatch(/JSON object/);
		expect((await refusal('application/json', 'null')).message).toMatch(/JSON object/);
		const latin1 = Uint8Array.from([...utf8('{"name":"'), 0xe9, ...utf8('"}')]);
		expect((await refusal('application/json', latin1)).message).toBe(
			'The body is not valid UTF-8.'
		);
	});

	it(`may nest ${webhookBodyLimits.maxJsonDepth} levels deep, no deeper`, async () => {
		const nested = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
		expect(
			await inputOf('application/json', nested(webhookBodyLimits.maxJsonDepth))
		).toHaveProperty('a');
		expect(
			(await refusal('application/json', nested(webhookBodyLimits.maxJsonDepth + 1))).message
		).toBe('The JSON is nested more than 32 levels deep.');
		const arrays = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
		expect((await refusal('application/json', arrays)).message).toMatch(/nested more than/);
	});

	it('may not hold NUL or an unpaired surrogate, in a value or a name; the error says where', async () => {
		expect((await refusal('application/json', '{"name":"a\\u0000b"}')).fields).toEqual({
			name: 'The value contains a NUL character (U+0000).'
		});
		expect((await refusal('application/json', '{"a":[1,{"b\\u0000":2}]}')).fields).toEqual({
			'a[1].b\\u0000': 'The name contains a NUL character (U+0000).'
		});
		for (const lone of ['\\ud800', '\\udc00x', 'x\\ud83d']) {
			expect((await refusal('application/json', `{"s":["${lone}"]}`)).fields).toEqual({
				's[0]': 'The value contains an unpaired UTF-16 surrogate.'
			});
		}
		expect(await inputOf('application/json', '{"smile":"\\ud83d\\ude00"}')).toEqual({
			smile: '😀'
		});
	});
});

describe('urlencoded forms', () => {
	const form = 'application/x-www-form-urlencoded';

	it('give each field as a string, repeated names and names ending in [] as arrays', async () => {
		expect(
			await inputOf(form, 'name=Ada+Lovelace&city=L%C3%BCbeck&tag=a&tag=b&one[]=x&empty=&bare&&')
		).toEqual({
			name: 'Ada Lovelace',
			city: 'Lübeck',
			tag: ['a', 'b'],
			one: ['x'],
			empty: '',
			bare: ''
		});
		expect(await inputOf(form, '')).toEqual({});
		expect(await inputOf(form, 'rate=100%&sign=%2B%3D%26')).toEqual({ rate: '100%', sign: '+=&' });
	});

	it('keep a field named __proto__ as a field', async () => {
		const input = await inputOf(form, '__proto__=x&constructor=y');
		expect(Object.getPrototypeOf(input)).toBe(Object.prototype);
		expect(Object.keys(input)).toEqual(['__proto__', 'constructor']);
	});

	it('refuse percent-encoded bytes that are not UTF-8, NUL and halves of surrogates', async () => {
		expect((await refusal(form, 'name=%E9')).message).toMatch(/not UTF-8/);
		expect((await refusal(form, 'name=%ED%A0%80')).message).toMatch(/not UTF-8/);
		expect((await refusal(form, 'name=a%00b')).fields).toEqual({
			name: 'The value contains a NUL character (U+0000).'
		});
		expect((await refusal(form, 'na%00me[]=a')).fields).toEqual({
			'na\\u0000me[]': 'The name contains a NUL character (U+0000).'
		});
		const raw = Uint8Array.from([...utf8('name='), 0xff]);
		expect((await refusal(form, raw)).message).toBe('The body is not valid UTF-8.');
	});

	it(`take at most ${webhookBodyLimits.maxFields} fields`, async () => {
		const fields = (count: number) => Array.from({ length: count }, (_, i) => `f${i}=1`).join('&');
		const input = await inputOf(form, fields(webhookBodyLimits.maxFields));
		expect(Object.keys(input)).toHaveLength(webhookBodyLimits.maxFields);
		expect((await refusal(form, fields(webhookBodyLimits.maxFields + 1))).message).toBe(
			'Send at most 1000 form fields.'
		);
		expect((await refusal(form, 'a=1&'.repeat(webhookBodyLimits.maxFields + 1))).message).toMatch(
			/at most/
		);
	});
});

describe('multipart forms', () => {
	it('give fields as a urlencoded form does', async () => {
		const body = multipartBody([
			{ name: 'name', value: 'Ada Lovelace' },
			{ name: 'tag', value: 'a' },
			{ name: 'tag', value: 'b' },
			{ name: 'city', value: 'Lübeck' }
		]);
		expect(await inputOf(multipart, body)).toEqual({
			name: 'Ada Lovelace',
			tag: ['a', 'b'],
			city: 'Lübeck'
		});
	});

	it('refuse a file, naming its field, and a body the parser cannot read', async () => {
		const withFile = multipartBody([
			{ name: 'name', value: 'ada' },
			{ name: 'upload', value: 'contents', filename: 'notes.txt' }
		]);
		expect(await refusal(multipart, withFile)).toEqual({
			message: 'Files are not accepted: send form fields only.',
			fields: { upload: 'This is a file.' }
		});
		expect((await refusal(multipart, 'not multipart')).message).toBe(
			'The body is not valid multipart/form-data.'
		);
		expect((await refusal('multipart/form-data', multipartBody([]))).message).toMatch(/not valid/);
	});

	it('refuse bytes that are not UTF-8, NUL, and more fields than the cap', async () => {
		const [head = '', tail = ''] = multipartBody([{ name: 'name', value: '#' }]).split('#');
		const latin1 = Uint8Array.from([...utf8(head), 0xe9, ...utf8(tail)]);
		expect((await refusal(multipart, latin1)).message).toBe('The body is not valid UTF-8.');
		expect(
			(await refusal(multipart, multipartBody([{ name: 'n', value: 'a\0b' }]))).fields
		).toEqual({ n: 'The value contains a NUL character (U+0000).' });
		const many = Array.from({ length: webhookBodyLimits.maxFields + 1 }, () => ({
			name: 'f',
			value: '1'
		}));
		expect((await refusal(multipart, multipartBody(many))).message).toMatch(/at most/);
	});
});

describe('plain text', () => {
	it('is { text } in the charset the Content-Type names, UTF-8 by default', async () => {
		expect(await inputOf('text/plain', 'Hello, Wörld\r\nline 2')).toEqual({
			text: 'Hello, Wörld\r\nline 2'
		});
		expect(await inputOf('text/plain', '')).toEqual({ text: '' });
		const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9]);
		expect(await inputOf('text/plain; charset=iso-8859-1', latin1)).toEqual({ text: 'café' });
	});

	it('refuses bytes that are not in its charset, and NUL', async () => {
		const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9]);
		expect((await refusal('text/plain', latin1)).message).toBe('The body is not valid UTF-8.');
		const loneSurrogate = Uint8Array.from([0x00, 0xd8]);
		expect((await refusal('text/plain; charset=utf-16le', loneSurrogate)).message).toBe(
			'The body is not valid utf-16le.'
		);
		expect((await refusal('text/plain', 'a\0b')).fields).toEqual({
			text: 'The value contains a NUL character (U+0000).'
		});
	});
});
