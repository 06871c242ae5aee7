import { describe, expect, it } from 'vitest';
import { templateKind } from './template.ts';
import { awkwardValues, loneSurrogate, stepContext } from './test-context.ts';

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

	it('inserts values as JSON: inside their string when quoted, as JSON values when bare', async () => {
		const values: Record<string, string> = { ...awkwardValues, lone: loneSurrogate.value };
		for (const [name, value] of Object.entries(values)) {
			const outcome = await templateKind.execute(stepContext({ input: values }), {
				template: `{ "quoted": "{{ $.${name} }}", "bare": {{ $.${name} }}, "admin": false }`,
				format: 'json'
			});
			const inserted = name === 'lone' ? loneSurrogate.inserted : value;
			expect(outcome, name).toEqual({
				type: 'succeeded',
				output: { quoted: inserted, bare: inserted, admin: false }
			});
		}
		const bare = await templateKind.execute(context, {
			template: '{ "name": {{ input.name }} }',
			format: 'json'
		});
		expect(bare).toEqual({ type: 'succeeded', output: { name: 'Ada' } });
	});

	it('refuses JSON templates whose text is not JSON, when saved and when run', async () => {
		const template = '{ name: {{ input.name }} }';
		expect(templateKind.checkConfig?.({ template, format: 'json' }, definition)).toEqual([
			{ path: 'template', message: expect.stringMatching(/^The text is not JSON/) }
		]);
		expect(templateKind.checkConfig?.({ template, format: 'text' }, definition)).toEqual([]);
		await expect(templateKind.execute(context, { template, format: 'json' })).rejects.toMatchObject(
			{
				name: 'StepFailure',
				code: 'invalid_json',
				retryable: false
			}
		);
	});
});
