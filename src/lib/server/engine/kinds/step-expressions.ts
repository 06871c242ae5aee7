import { z } from 'zod';
import {
	checkExpression,
	checkTemplate,
	evaluateExpression,
	ExpressionError,
	renderTemplate,
	type ExpressionData,
	type TemplateEncoding
} from '../expressions.ts';
import { StepFailure, type ConfigProblem, type StepContext } from './types.ts';

/** Config fields holding JSONata; whether they compile is checked by `expressionProblems`. */
export const expressionSchema = z
	.string({ error: 'Enter a JSONata expression.' })
	.min(1, 'Enter a JSONata expression.')
	.max(10_000, 'Use at most 10,000 characters.');

/** Config fields holding `{{ path }}` templates; checked by `templateProblems`. */
export const templateSchema = z
	.string({ error: 'Enter a text.' })
	.min(1, 'Enter a text.')
	.max(20_000, 'Use at most 20,000 characters.');

export function expressionProblems(path: string, source: string | undefined): ConfigProblem[] {
	const message = source === undefined ? null : checkExpression(source);
	return message === null ? [] : [{ path, message }];
}

export function templateProblems(
	path: string,
	template: string | undefined,
	encoding: TemplateEncoding = 'text'
): ConfigProblem[] {
	const message = template === undefined ? null : checkTemplate(template, encoding);
	return message === null ? [] : [{ path, message }];
}

function expressionData(context: StepContext): ExpressionData {
	// In a map iteration the step input is the item; `$item` and `$index` name it explicitly.
	return context.iteration >= 0
		? { ...context.data, item: context.input, index: context.iteration }
		: context.data;
}

function asStepFailure(error: unknown): unknown {
	return error instanceof ExpressionError
		? new StepFailure(error.code, error.message, { retryable: false })
		: error;
}

/** Evaluates JSONata for a step; a broken expression fails the step without retries. */
export async function evaluateForStep(context: StepContext, source: string): Promise<unknown> {
	try {
		return await evaluateExpression(source, expressionData(context), { input: context.input });
	} catch (error) {
		throw asStepFailure(error);
	}
}

/** Renders a template for a step, each value encoded for the template's language (text by default). */
export function renderForStep(
	context: StepContext,
	template: string,
	encoding: TemplateEncoding = 'text'
): string {
	try {
		return renderTemplate(template, expressionData(context), { input: context.input, encoding });
	} catch (error) {
		throw asStepFailure(error);
	}
}

/** JavaScript truthiness, except that an empty array (JSONata's "no match") is false. */
export function isTruthy(value: unknown): boolean {
	return Array.isArray(value) ? value.length > 0 : Boolean(value);
}
