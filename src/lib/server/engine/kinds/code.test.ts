import { afterAll, describe, expect, it } from 'vitest';
import { createSandboxPool } from '../../sandbox/pool.ts';
import { codeConfigSchema, createCodeKind, type CodeConfig } from './code.ts';
import { stepContext } from './test-context.ts';

const secret = 'tok-9f8e7d6c5b4a3210';
const sandbox = createSandboxPool({ size: 1 });
const kind = createCodeKind({
	sandbox,
	credentials: async (_workspaceId, credentialId) => {
		if (credentialId !== '00000000-0000-4000-8000-000000000002') throw new Error('unknown');
		return { headers: {}, secrets: [secret] };
	}
});
afterAll(() => sandbox.close());

const config = (overrides: Partial<CodeConfig>): CodeConfig =>
	codeConfigSchema.parse({ source: 'return input', ...overrides });

describe('code kind', () => {
	it('checks its config', () => {
		expect(codeConfigSchema.parse({ source: 'return 1' })).toEqual({
			source: 'return 1',
			allowFetch: false,
			secrets: {},
			timeoutMs: 5_000,
			memoryMb: 64
		});
		expect(codeConfigSchema.safeParse({ source: '' }).success).toBe(false);
		expect(codeConfigSchema.safeParse({ source: 'x', memoryMb: 4096 }).success).toBe(false);
		expect(codeConfigSchema.safeParse({ source: 'x', secrets: { 'a-b': 'x' } }).success).toBe(
			false
		);
		const definition = { inputs: [], nodes: [], edges: [] };
		expect(kind.checkConfig?.(config({ input: '$.(' }), definition)).toEqual([
			{ path: 'input', message: expect.any(String) }
		]);
	});

	it('runs the code on the step input with the run data, and keeps its logs', async () => {
		const context = stepContext({
			input: { a: 2 },
			data: { input: { rate: 10 }, steps: { prev: { output: 'x' } } }
		});
		const outcome = await kind.execute(
			context,
			config({
				source:
					'console.log("got", input.a); return input.a * data.input.rate + data.steps.prev.output'
			})
		);
		expect(outcome).toEqual({
			type: 'succeeded',
			output: '20x',
			logs: [{ level: 'log', message: 'got 2' }]
		});
	});

	it('maps the input with JSONata', async () => {
		const outcome = await kind.execute(
			stepContext({ input: { items: [1, 2, 3] } }),
			config({ input: '$sum(items)', source: 'return input + 1' })
		);
		expect(outcome).toMatchObject({ output: 7 });
	});

	it('fails without retries on the code’s own errors, with its logs', async () => {
		await expect(
			kind.execute(
				stepContext(),
				config({ source: 'console.warn("before"); throw new Error("bad")' })
			)
		).rejects.toMatchObject({
			code: 'code_runtime_error',
			retryable: false,
			message: expect.stringContaining('bad'),
			logs: [{ level: 'warn', message: 'before' }]
		});
		await expect(
			kind.execute(stepContext(), config({ source: 'while (true) {}', timeoutMs: 200 }))
		).rejects.toMatchObject({ code: 'code_timeout', retryable: false });
		// The pool recovered.
		expect(await kind.execute(stepContext({ input: 1 }), config({}))).toMatchObject({ output: 1 });
	});

	it('has no fetch unless allowed', async () => {
		const outcome = await kind.execute(stepContext(), config({ source: 'return typeof fetch' }));
		expect(outcome).toMatchObject({ output: 'undefined' });
	});

	it('hands over only mapped credentials, and conceals them', async () => {
		const concealed: string[] = [];
		const context = stepContext({ conceal: (values) => void concealed.push(...values) });
		const outcome = await kind.execute(
			context,
			config({
				source: 'return Object.keys(data.secrets).join() + ":" + data.secrets.token.length',
				secrets: { token: '00000000-0000-4000-8000-000000000002' }
			})
		);
		expect(outcome).toMatchObject({ output: `token:${secret.length}` });
		expect(concealed).toEqual([secret]);
		const none = await kind.execute(stepContext(), config({ source: 'return data.secrets' }));
		expect(none).toMatchObject({ output: {} });
	});

	it('stops on cancellation', async () => {
		const controller = new AbortController();
		const running = kind.execute(
			stepContext({ signal: controller.signal }),
			config({ source: 'while (true) {}' })
		);
		setTimeout(() => controller.abort(new Error('cancelled')), 100);
		await expect(running).rejects.toThrow('cancelled');
	});
});
