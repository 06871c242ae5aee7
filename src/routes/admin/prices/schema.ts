import { z } from 'zod';
import { modelPriceSchema } from '$lib/schemas/agents';
import { parseInto } from '$lib/schemas/parse-into';
import { modelPriceKeySchema } from '$lib/schemas/usage';

const price = z
	.string()
	.optional()
	.transform((value) => (value === undefined || value.trim() === '' ? undefined : Number(value)));

/** The price form: numbers as text (an empty cached price: the input price), then the API's schema. */
export const priceFormSchema = z
	.object({
		providerKind: z.string({ error: 'Choose a provider kind.' }),
		model: z.string({ error: 'Required.' }),
		inputPerMillion: price,
		outputPerMillion: price,
		cachedInputPerMillion: price.transform((value) => value ?? null)
	})
	.transform((form, context) => parseInto(modelPriceSchema, form, context));

export const deletePriceFormSchema = modelPriceKeySchema;

export const priceFormEcho = [
	'intent',
	'providerKind',
	'model',
	'inputPerMillion',
	'outputPerMillion',
	'cachedInputPerMillion'
];
