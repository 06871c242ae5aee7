import { describe, expect, it } from 'vitest';
import type { CredentialValue } from '../../schemas/credentials.ts';
import { applyCredential, credentialSecrets } from './apply.ts';

describe('applyCredential', () => {
	it.each<[CredentialValue, Record<string, string>]>([
		[{ kind: 'api_key', headerName: 'X-API-Key', key: 'k1' }, { 'X-API-Key': 'k1' }],
		[{ kind: 'bearer', token: 't1' }, { authorization: 'Bearer t1' }],
		[
			{ kind: 'basic', username: 'ada', password: 'pässword' },
			{ authorization: `Basic ${Buffer.from('ada:pässword', 'utf8').toString('base64')}` }
		],
		[{ kind: 'header', headerName: 'X-Shop-Token', value: 'v1' }, { 'X-Shop-Token': 'v1' }],
		[
			{ kind: 'openai', apiKey: 'sk-1', baseUrl: null, organization: null },
			{ authorization: 'Bearer sk-1' }
		],
		[
			{ kind: 'openai', apiKey: 'sk-1', baseUrl: null, organization: 'org-9' },
			{ authorization: 'Bearer sk-1', 'openai-organization': 'org-9' }
		],
		[
			{ kind: 'anthropic', apiKey: 'sk-ant', baseUrl: 'https://proxy.example' },
			{ 'x-api-key': 'sk-ant' }
		]
	])('%j sets %j', (credential, expected) => {
		expect(applyCredential(credential, { accept: 'application/json' })).toEqual({
			accept: 'application/json',
			...expected
		});
	});

	it('replaces a header of the same name in any case, without changing the input', () => {
		const headers = { Authorization: 'Bearer planted', 'x-API-key': 'planted', accept: '*/*' };
		const copy = { ...headers };
		expect(applyCredential({ kind: 'bearer', token: 'real' }, headers)).toEqual({
			'x-API-key': 'planted',
			accept: '*/*',
			authorization: 'Bearer real'
		});
		expect(
			applyCredential({ kind: 'api_key', headerName: 'X-Api-Key', key: 'real' }, headers)
		).toEqual({ Authorization: 'Bearer planted', accept: '*/*', 'X-Api-Key': 'real' });
		expect(headers).toEqual(copy);
	});

	it('works without headers', () => {
		expect(applyCredential({ kind: 'bearer', token: 't' })).toEqual({ authorization: 'Bearer t' });
	});
});

describe('credentialSecrets', () => {
	it('lists the secret, and user:password for Basic', () => {
		expect(credentialSecrets({ kind: 'bearer', token: 't' })).toEqual(['t']);
		expect(
			credentialSecrets({ kind: 'openai', apiKey: 'sk', baseUrl: null, organization: 'org' })
		).toEqual(['sk']);
		expect(credentialSecrets({ kind: 'basic', username: 'ada', password: 'pw' })).toEqual([
			'pw',
			'ada:pw'
		]);
	});
});
