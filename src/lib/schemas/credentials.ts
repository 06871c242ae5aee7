import { z } from 'zod';

/**
 * Credentials are the secrets workflows use to call other services. Each kind has exactly one secret
 * field (stored encrypted, never returned) and some settings that are not secret (returned as they are).
 */

export const credentialKinds = [
	'api_key',
	'bearer',
	'basic',
	'header',
	'openai',
	'anthropic'
] as const;
export type CredentialKind = (typeof credentialKinds)[number];

/** The name of each kind's secret field, in the API, the forms and the resolved value. */
export const secretFieldOf = {
	api_key: 'key',
	bearer: 'token',
	basic: 'password',
	header: 'value',
	openai: 'apiKey',
	anthropic: 'apiKey'
} as const satisfies Record<CredentialKind, string>;

export type SecretField = (typeof secretFieldOf)[CredentialKind];
/** The settings a PATCH may change besides the name (each applies to some kinds only). */
export const settingFields = ['headerName', 'username', 'baseUrl', 'organization'] as const;

const credentialLimits = { name: 100, headerName: 100, secret: 4_096, baseUrl: 2_048 };
export const defaultApiKeyHeader = 'X-API-Key';

export const credentialNameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(credentialLimits.name, `Use at most ${credentialLimits.name} characters.`);

// Names whose value the HTTP client works out itself: a credential could never set them.
const framingHeaders = new Set([
	'host',
	'content-length',
	'transfer-encoding',
	'connection',
	'keep-alive',
	'upgrade',
	'te',
	'trailer',
	'expect'
]);

/** An HTTP field name (RFC 9110 `token`). */
const headerNameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(credentialLimits.headerName, `Use at most ${credentialLimits.headerName} characters.`)
	.regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'Use letters, digits and - only (an HTTP header name).')
	.refine((name) => !framingHeaders.has(name.toLowerCase()), 'AWE sets this header itself.');

/** A secret sent as (part of) a header value: visible ASCII and spaces, no line breaks. */
const headerSecretSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(credentialLimits.secret, `Use at most ${credentialLimits.secret} characters.`)
	.regex(/^[\x20-\x7e]+$/, 'Use visible ASCII characters only (it is sent in a header).');

/** Sent base64-encoded, so any text goes; kept exactly as typed (no trimming). */
const passwordSchema = z
	.string({ error: 'Required.' })
	.min(1, { error: 'Required.', abort: true })
	.max(credentialLimits.secret, `Use at most ${credentialLimits.secret} characters.`)
	.regex(/^[^\p{Cc}]+$/u, 'Use no control characters.');

const usernameSchema = z
	.string({ error: 'Required.' })
	.trim()
	.min(1, { error: 'Required.', abort: true })
	.max(200, 'Use at most 200 characters.')
	.regex(/^[^:\p{Cc}]+$/u, 'Use no colon and no control characters (Basic authentication).');

/** Optional text: empty, blank or absent is null. */
function optional<T extends z.ZodType>(schema: T) {
	return z.preprocess(
		(value) =>
			value === undefined || (typeof value === 'string' && value.trim() === '') ? null : value,
		schema.nullable()
	);
}

const baseUrlSchema = optional(
	z
		.url({ protocol: /^https?$/, error: 'Use an http:// or https:// URL.' })
		.max(credentialLimits.baseUrl, `Use at most ${credentialLimits.baseUrl} characters.`)
		.refine((url) => {
			// An unparsable URL is reported by the check above.
			const parsed = URL.parse(url);
			return parsed === null || (parsed.username === '' && parsed.password === '');
		}, 'Put no user name or password in the URL.')
);

const organizationSchema = optional(
	z
		.string()
		.trim()
		.max(200, 'Use at most 200 characters.')
		.regex(/^[\x20-\x7e]+$/, 'Use visible ASCII characters only.')
);

/** Each kind's settings: everything but the name and the secret. */
const settingsOf = {
	api_key: { headerName: headerNameSchema.default(defaultApiKeyHeader) },
	bearer: {},
	basic: { username: usernameSchema },
	header: { headerName: headerNameSchema },
	openai: { baseUrl: baseUrlSchema, organization: organizationSchema },
	anthropic: { baseUrl: baseUrlSchema }
};

export const credentialSecretSchemas = {
	api_key: headerSecretSchema,
	bearer: headerSecretSchema,
	basic: passwordSchema,
	header: headerSecretSchema,
	openai: headerSecretSchema,
	anthropic: headerSecretSchema
} satisfies Record<CredentialKind, z.ZodType<string>>;

const kindError = { error: `Choose ${credentialKinds.join(', ')}.` };

/** A credential's kind and settings: what is stored in the clear and shown. */
export const credentialSettingsSchema = z.discriminatedUnion(
	'kind',
	[
		z.object({ kind: z.literal('api_key'), ...settingsOf.api_key }),
		z.object({ kind: z.literal('bearer'), ...settingsOf.bearer }),
		z.object({ kind: z.literal('basic'), ...settingsOf.basic }),
		z.object({ kind: z.literal('header'), ...settingsOf.header }),
		z.object({ kind: z.literal('openai'), ...settingsOf.openai }),
		z.object({ kind: z.literal('anthropic'), ...settingsOf.anthropic })
	],
	kindError
);

export type CredentialSettings = z.infer<typeof credentialSettingsSchema>;

export const createCredentialSchema = z.discriminatedUnion(
	'kind',
	[
		z.object({
			kind: z.literal('api_key'),
			name: credentialNameSchema,
			...settingsOf.api_key,
			key: credentialSecretSchemas.api_key
		}),
		z.object({
			kind: z.literal('bearer'),
			name: credentialNameSchema,
			token: credentialSecretSchemas.bearer
		}),
		z.object({
			kind: z.literal('basic'),
			name: credentialNameSchema,
			...settingsOf.basic,
			password: credentialSecretSchemas.basic
		}),
		z.object({
			kind: z.literal('header'),
			name: credentialNameSchema,
			...settingsOf.header,
			value: credentialSecretSchemas.header
		}),
		z.object({
			kind: z.literal('openai'),
			name: credentialNameSchema,
			...settingsOf.openai,
			apiKey: credentialSecretSchemas.openai
		}),
		z.object({
			kind: z.literal('anthropic'),
			name: credentialNameSchema,
			...settingsOf.anthropic,
			apiKey: credentialSecretSchemas.anthropic
		})
	],
	kindError
);

export type CreateCredentialInput = z.infer<typeof createCredentialSchema>;

/** A credential with its secret: what the engine injects into requests (never sent to a client). */
export type CredentialValue = WithoutName<CreateCredentialInput>;
type WithoutName<T> = T extends unknown ? Omit<T, 'name'> : never;

// Checked against the kind's secret schema once the credential's kind is known.
const writeOnly = z.string({ error: 'Give text.' }).optional();

/**
 * A partial update. Settings are merged into the stored ones and checked for the credential's kind
 * (fields of other kinds are ignored); a secret field that is absent or empty keeps the stored secret.
 */
export const updateCredentialSchema = z.object({
	name: credentialNameSchema.optional(),
	headerName: z.string({ error: 'Give text.' }).optional(),
	username: z.string({ error: 'Give text.' }).optional(),
	baseUrl: z.string({ error: 'Give text or null.' }).nullable().optional(),
	organization: z.string({ error: 'Give text or null.' }).nullable().optional(),
	key: writeOnly,
	token: writeOnly,
	password: writeOnly,
	value: writeOnly,
	apiKey: writeOnly
});

export type UpdateCredentialInput = z.infer<typeof updateCredentialSchema>;

/** A credential value split into what is stored in the clear and the secret (each field picked by name). */
export function splitSecret(value: CredentialValue): {
	settings: CredentialSettings;
	secret: string;
} {
	switch (value.kind) {
		case 'api_key':
			return { settings: { kind: value.kind, headerName: value.headerName }, secret: value.key };
		case 'bearer':
			return { settings: { kind: value.kind }, secret: value.token };
		case 'basic':
			return { settings: { kind: value.kind, username: value.username }, secret: value.password };
		case 'header':
			return { settings: { kind: value.kind, headerName: value.headerName }, secret: value.value };
		case 'openai': {
			const { kind, baseUrl, organization, apiKey } = value;
			return { settings: { kind, baseUrl, organization }, secret: apiKey };
		}
		case 'anthropic':
			return { settings: { kind: value.kind, baseUrl: value.baseUrl }, secret: value.apiKey };
	}
}

export function joinSecret(settings: CredentialSettings, secret: string): CredentialValue {
	switch (settings.kind) {
		case 'api_key':
			return { ...settings, key: secret };
		case 'bearer':
			return { ...settings, token: secret };
		case 'basic':
			return { ...settings, password: secret };
		case 'header':
			return { ...settings, value: secret };
		case 'openai':
		case 'anthropic':
			return { ...settings, apiKey: secret };
	}
}
