import type { z } from 'zod';
import { inputValidator, type JsonSchema } from '../tools/registry.ts';

/** What a final answer gives: the text, or with an output schema the JSON value it must be. */
export type CheckedAnswer = { ok: true; value: unknown } | { ok: false; problem: string };

// Models often wrap JSON in a Markdown fence even when asked not to.
const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/;

const validators = new Map<string, z.ZodType>();

function validatorFor(schema: JsonSchema): z.ZodType {
	const key = JSON.stringify(schema);
	let validator = validators.get(key);
	if (validator === undefined) {
		validator = inputValidator(schema);
		if (validators.size >= 100) validators.delete(validators.keys().next().value as string);
		validators.set(key, validator);
	}
	return validator;
}

/**
 * Checks a model's final answer against the step's output schema: the text must be one JSON value
 * (optionally in a ```json fence) that the schema accepts. Without a schema the text is the answer.
 */
export function checkAnswer(text: string, schema: JsonSchema | null): CheckedAnswer {
	if (schema === null) return { ok: true, value: text };
	let value: unknown;
	try {
		value = JSON.parse(fenced.exec(text)?.[1] ?? text);
	} catch {
		return { ok: false, problem: 'the answer is not JSON' };
	}
	let validator: z.ZodType;
	try {
		validator = validatorFor(schema);
	} catch (error) {
		return { ok: false, problem: error instanceof Error ? error.message : String(error) };
	}
	const parsed = validator.safeParse(value);
	if (parsed.success) return { ok: true, value: parsed.data };
	const issue = parsed.error.issues[0];
	const at = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
	return { ok: false, problem: `${issue?.message ?? 'rejected'}${at}` };
}
