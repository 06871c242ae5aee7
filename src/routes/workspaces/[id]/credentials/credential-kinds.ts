import type { CredentialKind, SecretField } from '$lib/schemas/credentials';

export const kindLabels: Record<CredentialKind, string> = {
	api_key: 'API key header',
	bearer: 'Bearer token',
	basic: 'Basic auth',
	header: 'Custom header',
	openai: 'OpenAI',
	anthropic: 'Anthropic'
};

/** How each kind is sent, for the form's help text. */
export const kindHelp: Record<CredentialKind, string> = {
	api_key: 'Sends the key in a header of your choice (X-API-Key unless you change it).',
	bearer: 'Sends Authorization: Bearer <token>.',
	basic: 'Sends Authorization: Basic with the user name and password.',
	header: 'Sends one header with a secret value, for APIs with their own scheme.',
	openai: 'An OpenAI (or OpenAI-compatible) API key, sent as Authorization: Bearer.',
	anthropic: 'An Anthropic API key, sent as x-api-key.'
};

export const secretLabels: Record<SecretField, string> = {
	key: 'API key',
	token: 'Token',
	password: 'Password',
	value: 'Header value',
	apiKey: 'API key'
};
