import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedHttp } from '../../outbound/guarded-http.ts';
import { startTestServer, type TestServer } from '../../outbound/test-server.ts';
import { createHttpKind, httpConfigSchema, type HttpConfig } from './http.ts';
import { stepContext } from './test-context.ts';
import { StepFailure } from './types.ts';

let server: TestServer;
let kind: ReturnType<typeof createHttpKind>;
const secret = 'sk-live-0123456789abcdef';

beforeAll(async () => {
	server = await startTestServer((request, response) => {
		if (request.url.startsWith('/status/')) {
			response.writeHead(Number(request.url.slice('/status/'.length)));
			response.end('nope');
			return;
		}
		if (request.url === '/text') {
			response.writeHead(200, { 'content-type': 'text/plain' });
			response.end('plain words');
			return;
		}
		// Echoes what it got, credential included: the step must not record it.
		response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'a=b' });
		response.end(
			JSON.stringify({ method: request.method, headers: request.headers, body: request.body })
		);
	});
	kind = createHttpKind({
		http: createGuardedHttp({ allow: [{ host: '127.0.0.1', port: server.port }] }),
		credentials: async (workspaceId, credentialId) => {
			if (workspaceId !== 'workspace-1' || credentialId !== '00000000-0000-4000-8000-000000000001')
				throw new StepFailure('credential_not_found', 'The credential does not exist.', {
					retryable: false
				});
			return { headers: { authorization: `Bearer ${secret}` }, secrets: [secret] };
		}
	});
});
afterAll(() => server.close());

const config = (overrides: Partial<HttpConfig>): HttpConfig =>
	httpConfigSchema.parse({ url: `http://127.0.0.1:${server.port}/echo`, ...overrides });

describe('http kind', () => {
	it('checks its config: templates, no GET body, no own Idempotency-Key', () => {
		expect(httpConfigSchema.parse({ url: 'https://example.com' })).toMatchObject({
			method: 'GET',
			headers: {},
			response: 'auto',
			failOnStatus: true,
			timeoutMs: 30_000
		});
		expect(httpConfigSchema.safeParse({ url: 'https://x', method: 'TRACE' }).success).toBe(false);
		expect(httpConfigSchema.safeParse({ url: 'https://x', headers: { 'a b': 'c' } }).success).toBe(
			false
		);
		const definition = { inputs: [], nodes: [], edges: [] };
		expect(
			kind.checkConfig?.(
				{
					...httpConfigSchema.parse({ url: 'https://x/{{ input.id' }),
					body: 'x',
					headers: { 'Idempotency-Key': 'mine' }
				},
				definition
			)
		).toEqual([
			{ path: 'url', message: expect.stringContaining('Unclosed') },
			{ path: 'body', message: 'A GET request has no body.' },
			{ path: 'headers.Idempotency-Key', message: 'The step sends its own Idempotency-Key.' }
		]);
	});

	it('renders URL, headers and body, and sends the step’s idempotency key', async () => {
		const context = stepContext({ input: { id: 7, name: 'Ada' }, idempotencyKey: 'run-1:fetch:0' });
		const outcome = await kind.execute(
			context,
			config({
				method: 'POST',
				url: `http://127.0.0.1:${server.port}/echo?id={{ $.id }}`,
				headers: { 'x-name': '{{ $.name }}' },
				body: '{"id": {{ $.id }}}'
			})
		);
		expect(outcome.type).toBe('succeeded');
		const output = (
			outcome as {
				output: { status: number; body: Record<string, unknown>; headers: Record<string, string> };
			}
		).output;
		expect(output.status).toBe(200);
		expect(output.body).toMatchObject({
			method: 'POST',
			body: '{"id": 7}',
			headers: {
				'x-name': 'Ada',
				'idempotency-key': 'run-1:fetch:0',
				'content-type': 'application/json'
			}
		});
		expect(output.headers['set-cookie']).toBeUndefined();
		expect(server.received.at(-1)?.url).toBe('/echo?id=7');
	});

	it('applies a credential host-side and conceals its value', async () => {
		const concealed: string[] = [];
		const context = stepContext({ conceal: (secrets) => void concealed.push(...secrets) });
		await kind.execute(context, config({ credentialId: '00000000-0000-4000-8000-000000000001' }));
		expect(server.received.at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
		expect(concealed).toEqual([secret]);
		await expect(
			kind.execute(
				stepContext({ workspaceId: 'workspace-2' }),
				config({ credentialId: '00000000-0000-4000-8000-000000000001' })
			)
		).rejects.toMatchObject({ code: 'credential_not_found' });
	});

	it('reads text, fails on error statuses (retrying 5xx and 429 only) unless told not to', async () => {
		const text = await kind.execute(
			stepContext(),
			config({ url: `http://127.0.0.1:${server.port}/text` })
		);
		expect(text).toMatchObject({ output: { body: 'plain words' } });
		for (const [status, retryable] of [
			[404, false],
			[429, true],
			[503, true]
		] as const) {
			await expect(
				kind.execute(
					stepContext(),
					config({ url: `http://127.0.0.1:${server.port}/status/${status}` })
				)
			).rejects.toMatchObject({ code: 'http_status', retryable });
		}
		const tolerated = await kind.execute(
			stepContext(),
			config({ url: `http://127.0.0.1:${server.port}/status/404`, failOnStatus: false })
		);
		expect(tolerated).toMatchObject({ output: { status: 404, body: 'nope' } });
	});

	it('refuses private addresses that are not allowed, without retries', async () => {
		await expect(
			kind.execute(stepContext(), config({ url: 'http://169.254.169.254/latest/meta-data/' }))
		).rejects.toMatchObject({ code: 'http_blocked_address', retryable: false });
		await expect(
			kind.execute(stepContext(), config({ url: 'file:///etc/passwd' }))
		).rejects.toMatchObject({ retryable: false });
	});
});
