import { z } from 'zod';

export const apiScopeNames = ['read', 'write', 'run', 'admin'] as const;

export const createTokenSchema = z.object({
	name: z
		.string({ error: 'Required.' })
		.trim()
		.min(1, 'Required.')
		.max(80, 'Use at most 80 characters.'),
	scopes: z
		.union([z.enum(apiScopeNames), z.array(z.enum(apiScopeNames))], {
			error: 'Choose at least one scope.'
		})
		.transform((value) => (Array.isArray(value) ? value : [value])),
	expiresInDays: z.coerce.number().int().min(1, 'At least 1 day.').max(366, 'At most 366 days.')
});
