import { describe, expect, it } from 'vitest';
import { templateKind } from './template.ts';
import { stepContext } from './test-context.ts';

const definition = { inputs: [], nodes: [], edges: [] };
const context = stepContext({
	input: { id: 7 },
	data: { input: { name: 'Ada' }, steps: { fetch: { output: { tags: ['x'] } } } }
});

describe('template kind', () => {
	it('defaults to text and checks references', () => {
		expect(templateKind.configSchema.parse({ template: 'Hi' })).toEqual({
			template: 'Hi',
			format: 'text'
		});
		expect(templateKind.configSchema.safeParse({ template: 'Hi', format: 'xml' }).success).toBe(
			false
		);
		expect(
			templateKind.checkConfig?.({ template: 'Hi {{ input', format: 'text' }, definition)
		).toEqual([{ path: 'template', message: 'Unclosed {{ at position 3.' }]);
	});

	it('renders text', async () => {
		const outcome = await templateKind.execute(context, {
			template: 'Hi {{ input.name }} #{{ $.id }}',
			format: 'text'
		});
		expect(outcome).toEqual({ type: 'succeeded', output: 'Hi Ada #7' });
	});

	it('parses rendered JSON', async () => {
		const outcome = await templateKind.execute(context, {
			template: '{ "id": {{ $.id }}, "tags": {{ steps.fetch.output.tags }} }',
			format: 'json'
		});
		expect(outcome).toEqual({ type: 'succeeded', output: { id: 7, tags: ['x'] } });
	});

	it('fails without retries when the rendered text is not JSON', async () => {
		const outcome = templateKind.execute(context, {
			template: '{ "name": {{ input.name }} }',
			format: 'json'
		});
		await expect(outcome).rejects.toMatchObject({
			name: 'StepFailure',
			code: 'invalid_json',
			retryable: false
		});
	});
});
