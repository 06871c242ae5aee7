import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedHttp } from '../../outbound/guarded-http.ts';
import { startTestServer, type TestServer } from '../../outbound/test-server.ts';
import { createHttpKind, httpConfigSchema, type HttpConfig } from './http.ts';
import { awkwardValues, loneSurrogate, stepContext } from './test-context.ts';
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
			{ path: 'body', message: expect.stringMatching(/^The text is not JSON/) },
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

	describe('inserts values as data, never syntax', () => {
		const values: Record<string, string> = { ...awkwardValues, lone: loneSurrogate.value };
		const expected = (name: string) =>
			name === 'lone' ? loneSurrogate.inserted : (values[name] as string);
		const send = (overrides: Partial<HttpConfig>) =>
			kind.execute(stepContext({ input: values }), config({ method: 'POST', ...overrides }));
		const lastRequest = () => {
			const request = server.received.at(-1);
			if (request === undefined) throw new Error('No request reached the server.');
			return { ...request, url: new URL(request.url, 'http://127.0.0.1') };
		};

		it('encodes URL values: each stays one path segment or one query value', async () => {
			for (const name of Object.keys(values)) {
				await send({
					url: `http://127.0.0.1:${server.port}/echo/{{ $.${name} }}?q={{ $.${name} }}&keep=1`
				});
				const { url } = lastRequest();
				expect(url.pathname.split('/').map(decodeURIComponent), name).toEqual([
					'',
					'echo',
					expected(name)
				]);
				expect([...url.searchParams], name).toEqual([
					['q', expected(name)],
					['keep', '1']
				]);
			}
		});

		it('refuses a value that would move up the URL’s path', async () => {
			const before = server.received.length;
			await expect(
				kind.execute(
					stepContext({ input: { id: '..' } }),
					config({ url: `http://127.0.0.1:${server.port}/echo/{{ $.id }}/admin` })
				)
			).rejects.toMatchObject({ code: 'invalid_url', retryable: false });
			expect(server.received.length).toBe(before);
		});

		it('encodes JSON body values inside their string, or as JSON values when bare', async () => {
			for (const name of Object.keys(values)) {
				await send({
					body: `{"quoted": "{{ $.${name} }}", "bare": {{ $.${name} }}, "list": ["<{{ $.${name} }}>"]}`
				});
				const { body, headers } = lastRequest();
				expect(headers['content-type']).toBe('application/json');
				expect(JSON.parse(body), name).toEqual({
					quoted: expected(name),
					bare: expected(name),
					list: [`<${expected(name)}>`]
				});
			}
		});

		it('keeps an injection attempt inside one string value', async () => {
			await send({ body: '{"name": "{{ $.injection }}", "admin": false}' });
			expect(JSON.parse(lastRequest().body)).toEqual({
				name: awkwardValues.injection,
				admin: false
			});
		});

		it('encodes form fields, and leaves other text bodies as they are', async () => {
			for (const name of Object.keys(values)) {
				await send({
					body: `a={{ $.${name} }}&b=2`,
					contentType: 'application/x-www-form-urlencoded'
				});
				expect([...new URLSearchParams(lastRequest().body)], name).toEqual([
					['a', expected(name)],
					['b', '2']
				]);
			}
			await send({ body: 'Hi {{ $.quote }}', contentType: 'text/plain; charset=utf-8' });
			expect(lastRequest().body).toBe('Hi say "hi"');
		});

		it('encodes the body for a content type set in the headers, sending it once', async () => {
			await send({ headers: { 'Content-Type': 'text/plain' }, body: '{{ $.quote }}' });
			expect(lastRequest()).toMatchObject({
				body: 'say "hi"',
				headers: { 'content-type': 'text/plain' }
			});
			await send({
				headers: { 'Content-Type': 'application/vnd.api+json' },
				body: '{{ $.quote }}'
			});
			expect(lastRequest().body).toBe('"say \\"hi\\""');
		});

		it('refuses JSON body templates that are not JSON, and content types from data', () => {
			const definition = { inputs: [], nodes: [], edges: [] };
			const check = (overrides: Record<string, unknown>) =>
				kind.checkConfig?.(
					httpConfigSchema.parse({ url: 'https://x', method: 'POST', ...overrides }),
					definition
				);
			expect(check({ body: '{"name": {{ $.name }}}' })).toEqual([]);
			expect(check({ body: '{"name": Ada}' })).toEqual([
				{ path: 'body', message: expect.stringMatching(/^The text is not JSON/) }
			]);
			expect(check({ body: 'Hi {{ $.name }}', contentType: 'text/plain' })).toEqual([]);
			expect(
				check({ body: 'Hi', headers: { 'Content-Type': 'application/{{ $.type }}' } })
			).toEqual([
				{ path: 'headers.Content-Type', message: expect.stringContaining('without {{ }}') }
			]);
		});

		it('refuses header values with a line break or beyond Latin-1, sending nothing', async () => {
			const before = server.received.length;
			for (const value of [
				awkwardValues.newline,
				'trailing\n',
				'a\rb',
				'nul\u0000',
				'東京',
				loneSurrogate.value
			]) {
				const outcome = kind.execute(
					stepContext({ input: { value } }),
					config({ headers: { 'x-note': '{{ $.value }}' } })
				);
				await expect(outcome, JSON.stringify(value)).rejects.toMatchObject({
					code: 'invalid_header',
					retryable: false,
					message: expect.stringContaining('x-note')
				});
			}
			expect(server.received.length).toBe(before);
			await kind.execute(
				stepContext({ input: { value: 'Zoë "quoted" {x}' } }),
				config({ headers: { 'x-note': '{{ $.value }}' } })
			);
			// Latin-1 travels one byte a character; Node reads it back the same way.
			expect(server.received.at(-1)?.headers['x-note']).toBe('Zoë "quoted" {x}');
			expect(
				httpConfigSchema.safeParse({ url: 'https://x', headers: { 'x-a': 'a\r\nx-b: b' } }).success
			).toBe(false);
			expect(httpConfigSchema.safeParse({ url: 'https://x', contentType: 'a\nb' }).success).toBe(
				false
			);
		});
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
