import { z } from 'zod';
import { createProviderSchema, updateProviderSchema } from '$lib/schemas/agents';
import { parseInto } from '$lib/schemas/parse-into';
import { parseJsonText } from '$lib/schemas/storable';

// Forms send text: empty optional fields become null (or "keep the default"), numbers are parsed,
// and the script is JSON. Then the same schemas as the API decide.

const optionalText = z.string().optional();
const blankToNull = (value: string | undefined) =>
	value === undefined || value.trim() === '' ? null : value;
const numberOrDefault = (value: string | undefined) =>
	value === undefined || value.trim() === '' ? undefined : Number(value);

const formFields = z.object({
	name: optionalText,
	baseUrl: optionalText,
	credentialId: optionalText,
	defaultModel: optionalText,
	concurrency: optionalText,
	timeoutMs: optionalText,
	script: optionalText
});

type FormFields = z.infer<typeof formFields>;

function toInput(form: FormFields, context: z.RefinementCtx) {
	let script: unknown = undefined;
	if (form.script !== undefined) {
		const parsed = parseJsonText(form.script.trim() === '' ? 'null' : form.script);
		if (parsed.ok) script = parsed.value;
		else context.addIssue({ code: 'custom', path: ['script'], message: parsed.message });
	}
	return {
		name: form.name ?? '',
		baseUrl: blankToNull(form.baseUrl),
		credentialId: blankToNull(form.credentialId),
		defaultModel: form.defaultModel ?? '',
		concurrency: numberOrDefault(form.concurrency),
		timeoutMs: numberOrDefault(form.timeoutMs),
		...(script === undefined ? {} : { script })
	};
}

export const createProviderFormSchema = formFields
	.extend({ kind: z.string({ error: 'Choose a kind.' }) })
	.transform((form, context) =>
		parseInto(createProviderSchema, { kind: form.kind, ...toInput(form, context) }, context)
	);

const providerIdSchema = z.string({ error: 'Required.' }).min(1, 'Required.').max(64);

export const updateProviderFormSchema = formFields
	.extend({ providerId: providerIdSchema })
	.transform((form, context) => ({
		providerId: form.providerId,
		patch: parseInto(updateProviderSchema, toInput(form, context), context)
	}));

/** The forms that name only the provider: delete, and test its connection. */
export const deleteProviderFormSchema = z.object({ providerId: providerIdSchema });

/** What a failed submit echoes back (nothing here is secret). */
export const providerFormEcho = [
	'intent',
	'kind',
	'providerId',
	'name',
	'baseUrl',
	'credentialId',
	'defaultModel',
	'concurrency',
	'timeoutMs',
	'script'
];
