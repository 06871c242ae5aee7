import { splitSecret, type CredentialValue } from '../../schemas/credentials.ts';

/** The header a credential sets, by kind. */
function credentialHeaders(credential: CredentialValue): Record<string, string> {
	switch (credential.kind) {
		case 'api_key':
			return { [credential.headerName]: credential.key };
		case 'bearer':
			return { authorization: `Bearer ${credential.token}` };
		case 'basic':
			return { authorization: `Basic ${basicToken(credential.username, credential.password)}` };
		case 'header':
			return { [credential.headerName]: credential.value };
		case 'openai':
			return {
				authorization: `Bearer ${credential.apiKey}`,
				...(credential.organization ? { 'openai-organization': credential.organization } : {})
			};
		case 'anthropic':
			return { 'x-api-key': credential.apiKey };
	}
}

function basicToken(username: string, password: string): string {
	return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/**
 * The request headers with the credential added, host side (a workflow never sees the value). Any
 * header of the same name the workflow set is replaced, whatever its case; `headers` is not changed.
 */
export function applyCredential(
	credential: CredentialValue,
	headers: Readonly<Record<string, string>> = {}
): Record<string, string> {
	const added = credentialHeaders(credential);
	const replaced = new Set(Object.keys(added).map((name) => name.toLowerCase()));
	const kept = Object.entries(headers).filter(([name]) => !replaced.has(name.toLowerCase()));
	return { ...Object.fromEntries(kept), ...added };
}

/** What a redactor must hide for this credential: its secret and, for Basic, `user:password`. */
export function credentialSecrets(credential: CredentialValue): string[] {
	const { secret } = splitSecret(credential);
	return credential.kind === 'basic' ? [secret, `${credential.username}:${secret}`] : [secret];
}
