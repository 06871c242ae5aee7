import { z } from 'zod';
import {
	updateAgentSchema,
	updateProviderSchema,
	type UpdateAgentInput,
	type UpdateProviderInput
} from './agents.ts';

/** An object schema whose every field is optional, typed as the update input it stands in for. */
type PatchSchema<T extends Record<string, unknown>> = z.ZodObject<{
	[K in keyof T]-?: z.ZodOptional<z.ZodType<Exclude<T[K], undefined>>>;
}>;

/**
 * A PATCH body of the same fields without their defaults. `updateProviderSchema` and
 * `updateAgentSchema` are partials of fields that carry defaults, and zod fills a default in for a
 * field left out: `{ name }` would also reset the tools, the limits and the script. A field left out
 * here stays out, so the stored value is kept.
 */
function withoutDefaults<T extends Record<string, unknown>>(schema: z.ZodObject): PatchSchema<T> {
	const shape = Object.fromEntries(
		Object.entries(schema.shape).map(([name, field]) => {
			let inner: z.ZodType = field;
			if (inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
			if (inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
			return [name, inner.optional()];
		})
	);
	return z.object(shape).strict() as unknown as PatchSchema<T>;
}

export const providerPatchSchema = withoutDefaults<UpdateProviderInput>(updateProviderSchema);
export const agentPatchSchema = withoutDefaults<UpdateAgentInput>(updateAgentSchema);
