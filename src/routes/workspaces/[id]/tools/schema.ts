import { z } from 'zod';
import { parseJsonText } from '$lib/schemas/storable';
import {
	toolDescriptionSchema,
	toolInputSchemaSchema,
	toolNameSchema,
	toolRiskSchema,
	toolSourceSchema
} from '$lib/schemas/tools';

/** Text that must parse as storable JSON; what is wrong is shown under the field. */
function jsonText(label: string) {
	return z.string({ error: 'Required.' }).transform((text, context) => {
		const parsed = parseJsonText(text === '' ? '{}' : text);
		if (parsed.ok) return parsed.value;
		const message = parsed.syntax
			? `${label} is not valid JSON: ${parsed.message.replace(/^Not valid JSON: /, '')}`
			: `${label}: ${parsed.message}`;
		context.addIssue({ code: 'custom', message });
		return z.NEVER;
	});
}

// A checkbox is sent as "on" when ticked and not at all otherwise.
const checkbox = z
	.literal('on')
	.optional()
	.transform((value) => value === 'on');

const toolIdSchema = z.string({ error: 'Required.' }).min(1, 'Required.').max(64);

/** The create and edit forms: every field, the input schema as JSON text. */
export const toolFormSchema = z.object({
	name: toolNameSchema,
	description: toolDescriptionSchema,
	risk: toolRiskSchema,
	requiresApproval: checkbox,
	allowFetch: checkbox,
	inputSchema: jsonText('The schema').pipe(toolInputSchemaSchema),
	source: toolSourceSchema
});

export const updateToolFormSchema = toolFormSchema.extend({ toolId: toolIdSchema });
export const deleteToolFormSchema = z.object({ toolId: toolIdSchema });
/** "Try it": any JSON value as the input (empty is `{}`). */
export const testToolFormSchema = z.object({ toolId: toolIdSchema, input: jsonText('The input') });

/** What a failed submit echoes back into the tool forms (nothing here is secret). */
export const toolFormEcho = [
	'intent',
	'toolId',
	'name',
	'description',
	'risk',
	'requiresApproval',
	'allowFetch',
	'inputSchema',
	'source'
];
