import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedHttp } from '../outbound/guarded-http.ts';
import { startTestServer, type TestServer } from '../outbound/test-server.ts';
import { createSandboxPool } from '../sandbox/pool.ts';
import {
	ToolError,
	ToolRegistry,
	builtInTools,
	customTool,
	inputValidator,
	type ToolContext
} from './registry.ts';

let server: TestServer;
const sandbox = createSandboxPool({ size: 1 });
let registry: ToolRegistry;

const context = (): ToolContext => ({
	workspaceId: 'workspace-1',
	idempotencyKey: 'run-1:agent:0',
	signal: new AbortController().signal,
	conceal: () => {}
});

beforeAll(async () => {
	server = await startTestServer((request, response) => {
		response.writeHead(200, { 'content-type': 'text/plain' });
		response.end(`${request.method} ${request.url} ${request.headers['idempotency-key']}`);
	});
	registry = new ToolRegistry(
		builtInTools({
			http: createGuardedHttp({ allow: [{ host: '127.0.0.1', port: server.port }] }),
			sandbox
		})
	);
});
afterAll(async () => {
	await server.close();
	await sandbox.close();
});

describe('tool registry', () => {
	it('lists the built-ins with their JSON Schemas, risks and approval flags', () => {
		expect(registry.list().map((tool) => [tool.name, tool.risk, tool.requiresApproval])).toEqual([
			['http_request', 'external', false],
			['run_code', 'read', false],
			['current_time', 'read', false]
		]);
		expect(registry.get('http_request')?.inputSchema).toMatchObject({
			type: 'object',
			properties: { url: { type: 'string' }, method: { enum: expect.any(Array) } },
			required: ['url']
		});
		expect(registry.get('http_request')?.inputSchema.$schema).toBeUndefined();
		expect(() => registry.add(registry.get('run_code')!)).toThrow('registered twice');
	});

	it('checks input before running anything', async () => {
		await expect(registry.get('http_request')!.execute(context(), { url: 42 })).rejects.toEqual(
			expect.objectContaining({ code: 'invalid_input', message: expect.stringContaining('url') })
		);
		await expect(
			registry.get('current_time')!.execute(context(), { timeZone: 'Mars/Olympus' })
		).rejects.toBeInstanceOf(ToolError);
		expect(server.received).toHaveLength(0);
	});

	it('http_request goes through the guarded client with the caller’s idempotency key', async () => {
		const result = await registry
			.get('http_request')!
			.execute(context(), { url: `http://127.0.0.1:${server.port}/x?y=1` });
		expect(result).toMatchObject({ status: 200, body: 'GET /x?y=1 run-1:agent:0' });
		await expect(
			registry.get('http_request')!.execute(context(), { url: 'http://10.0.0.1/' })
		).rejects.toMatchObject({ code: 'http_blocked_address' });
	});

	it('run_code runs in the sandbox; current_time answers', async () => {
		expect(
			await registry.get('run_code')!.execute(context(), { source: 'return input * 2', input: 21 })
		).toEqual({ output: 42, logs: [] });
		await expect(
			registry.get('run_code')!.execute(context(), { source: 'return process.env' })
		).rejects.toMatchObject({ code: 'code_runtime_error' });
		const time = (await registry
			.get('current_time')!
			.execute(context(), { timeZone: 'Europe/Paris' })) as { utc: string; local: string };
		expect(Date.parse(time.utc)).not.toBeNaN();
		expect(time.local).toMatch(/^\d{4}-\d{2}-\d{2}, \d{2}:\d{2}:\d{2}$/);
	});

	it('current_time answers in each zone asked for, also after many others', async () => {
		const tool = registry.get('current_time')!;
		// Hours ahead of UTC all year (no daylight saving time).
		const offsetOf = async (timeZone: string) => {
			const time = (await tool.execute(context(), { timeZone })) as { utc: string; local: string };
			return (Number(time.local.slice(12, 14)) - new Date(time.utc).getUTCHours() + 24) % 24;
		};
		expect(await offsetOf('Asia/Tokyo')).toBe(9);
		for (const zone of Intl.supportedValuesOf('timeZone').slice(0, 100)) await offsetOf(zone);
		expect(await offsetOf('Asia/Tokyo')).toBe(9);
		expect(await offsetOf('Pacific/Honolulu')).toBe(14);
		await expect(offsetOf('Mars/Olympus')).rejects.toBeInstanceOf(ToolError);
	});

	it('custom tools: sandboxed code behind the user’s input schema', async () => {
		const tool = customTool(
			{
				name: 'greet',
				description: 'Greets',
				inputSchema: {
					type: 'object',
					properties: { name: { type: 'string', minLength: 1 } },
					required: ['name'],
					additionalProperties: false
				},
				source: 'return `Hello, ${input.name}`',
				risk: 'read',
				requiresApproval: true,
				allowFetch: false
			},
			sandbox
		);
		expect(await tool.execute(context(), { name: 'Ada' })).toBe('Hello, Ada');
		await expect(tool.execute(context(), { name: '', extra: 1 })).rejects.toMatchObject({
			code: 'invalid_input'
		});
		expect(registry.with([tool]).get('greet')?.requiresApproval).toBe(true);
		expect(() => inputValidator({ type: 'string' })).toThrow('must describe an object');
		expect(() =>
			inputValidator({ type: 'object', properties: { a: { $ref: 'https://evil.example/s' } } })
		).toThrow('cannot be used');
	});
});
