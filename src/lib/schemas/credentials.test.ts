import { describe, expect, it } from 'vitest';
import {
	createCredentialSchema,
	joinSecret,
	splitSecret,
	type CredentialValue
} from './credentials.ts';

const fieldsOf = (input: unknown) => {
	const parsed = createCredentialSchema.safeParse(input);
	return parsed.success ? null : parsed.error.issues.map((issue) => issue.path.join('.'));
};

describe('createCredentialSchema', () => {
	it('fills in the defaults of each kind and drops what no kind has', () => {
		expect(
			createCredentialSchema.parse({
				kind: 'api_key',
				name: '  Shop  ',
				key: ' k-123 ',
				workspaceId: 'w',
				hint: 'x'
			})
		).toEqual({ kind: 'api_key', name: 'Shop', headerName: 'X-API-Key', key: 'k-123' });
		expect(
			createCredentialSchema.parse({ kind: 'openai', name: 'AI', apiKey: 'sk', baseUrl: '' })
		).toEqual({ kind: 'openai', name: 'AI', apiKey: 'sk', baseUrl: null, organization: null });
	});

	it('names each field it refuses', () => {
		expect(fieldsOf({ kind: 'vault', name: 'x' })).toEqual(['kind']);
		expect(fieldsOf({ kind: 'bearer', name: '', token: '' })).toEqual(['name', 'token']);
		expect(fieldsOf({ kind: 'bearer', name: 'x'.repeat(101), token: 't' })).toEqual(['name']);
		expect(fieldsOf({ kind: 'bearer', name: 'x', token: 't'.repeat(4097) })).toEqual(['token']);
		expect(fieldsOf({ kind: 'basic', name: 'x', username: 'a:b', password: 'p' })).toEqual([
			'username'
		]);
		expect(fieldsOf({ kind: 'basic', name: 'x', username: 'a', password: 'p\nq' })).toEqual([
			'password'
		]);
	});

	it('takes only HTTP token header names, and none the client sets itself', () => {
		for (const headerName of [
			'X Key',
			'X-Key:',
			'Ключ',
			'X-Key\r\nEvil: 1',
			'Host',
			'content-length'
		])
			expect(fieldsOf({ kind: 'header', name: 'x', headerName, value: 'v' })).toEqual([
				'headerName'
			]);
		expect(
			fieldsOf({ kind: 'header', name: 'x', headerName: "X-Odd_#$%&'*+.^`|~1", value: 'v' })
		).toBeNull();
	});

	it('refuses header values that could split a header', () => {
		for (const key of ['a\r\nX-Evil: 1', 'a\u0000b', 'ключ'])
			expect(fieldsOf({ kind: 'api_key', name: 'x', key })).toEqual(['key']);
	});

	it('takes http and https base URLs only, without user info', () => {
		for (const baseUrl of [
			'ftp://x.example',
			'javascript:alert(1)',
			'file:///etc/passwd',
			'https://u:p@x.example',
			'not a url'
		])
			expect(fieldsOf({ kind: 'anthropic', name: 'x', apiKey: 'k', baseUrl })).toEqual(['baseUrl']);
		expect(
			fieldsOf({
				kind: 'anthropic',
				name: 'x',
				apiKey: 'k',
				baseUrl: 'http://llm.internal:8080/v1'
			})
		).toBeNull();
	});
});

describe('splitSecret and joinSecret', () => {
	it.each<CredentialValue>([
		{ kind: 'api_key', headerName: 'X-Key', key: 's1' },
		{ kind: 'bearer', token: 's2' },
		{ kind: 'basic', username: 'ada', password: 's3' },
		{ kind: 'header', headerName: 'X-Token', value: 's4' },
		{ kind: 'openai', apiKey: 's5', baseUrl: null, organization: 'org' },
		{ kind: 'anthropic', apiKey: 's6', baseUrl: 'https://x.example' }
	])('keep the secret out of the settings of %j, and put it back', (value) => {
		const { settings, secret } = splitSecret(value);
		expect(secret).toMatch(/^s\d$/);
		expect(JSON.stringify(settings)).not.toContain(secret);
		expect(joinSecret(settings, secret)).toEqual(value);
	});
});
