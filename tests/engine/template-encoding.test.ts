import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awkwardValues } from '../../src/lib/server/engine/kinds/test-context.ts';
import { startTestServer, type TestServer } from '../../src/lib/server/outbound/test-server.ts';
import { createTooling, type Tooling } from '../../src/lib/server/tools/tooling.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';

/**
 * Values from a run's input travel through an `http` node to a real server and back through a
 * JSON template: every one arrives as the same data, whatever JSON, URL or template syntax it holds.
 */

const testDb = useTestDatabase();
// Quotes, a backslash, line breaks, braces, `{{`, & ? / # %, non-ASCII and an injection attempt.
const awkward = Object.values(awkwardValues).join(' ');
let echo: TestServer;
let tooling: Tooling;
let engine: EngineHarness;

beforeAll(async () => {
	echo = await startTestServer((request, response) => {
		response.writeHead(200, { 'content-type': 'application/json' });
		response.end(JSON.stringify({ got: JSON.parse(request.body || 'null') as unknown }));
	});
	tooling = createTooling({
		lookupCredential: async () => null,
		allow: [{ host: '127.0.0.1', port: echo.port }],
		codeRunners: 1
	});
	engine = await createEngineHarness(testDb.database, tooling.kinds);
	await engine.startWorker();
});
afterAll(async () => {
	await engine.stopWorkers();
	await tooling.close();
	await echo.close();
});

const post = (config: Record<string, unknown>) => ({
	id: 'post',
	kind: 'http',
	config: { method: 'POST', url: `http://127.0.0.1:${echo.port}/items`, ...config }
});

const publish = (nodes: unknown[], inputs: string[] = []) =>
	engine.publish({
		inputs: inputs.map((name) => ({ name, type: name === 'tags' ? 'array' : 'string' })),
		nodes: [{ id: 'start', kind: 'input' }, ...nodes],
		edges: nodes.map((node, index) => ({
			from: index === 0 ? 'start' : (nodes[index - 1] as { id: string }).id,
			to: (node as { id: string }).id
		}))
	});

describe('templates in a run', () => {
	it('send values through the URL, the JSON body and a JSON template as the same data', async () => {
		const workflowId = await publish(
			[
				post({
					url: `http://127.0.0.1:${echo.port}/items/{{ input.id }}?q={{ input.q }}&keep=1`,
					headers: { 'x-note': '{{ input.note }}' },
					body: '{"name": "{{ input.name }}", "tags": {{ input.tags }}, "again": {{ input.name }}}'
				}),
				{
					id: 'shape',
					kind: 'template',
					config: {
						template: '{"said": "{{ steps.post.output.body.got.name }}", "got": {{ $.body.got }}}',
						format: 'json'
					}
				}
			],
			['id', 'q', 'name', 'tags', 'note']
		);
		const input = { id: awkward, q: awkward, name: awkward, tags: [awkward], note: 'plain' };
		const run = await engine.waitFor((await engine.start(workflowId, input)).id);

		expect(run.status).toBe('succeeded');
		const request = echo.received.at(-1);
		const url = new URL(request?.url ?? '', 'http://127.0.0.1');
		expect(url.pathname.split('/').map(decodeURIComponent)).toEqual(['', 'items', awkward]);
		expect([...url.searchParams]).toEqual([
			['q', awkward],
			['keep', '1']
		]);
		const sent = { name: awkward, tags: [awkward], again: awkward };
		expect(JSON.parse(request?.body ?? '')).toEqual(sent);
		expect((await engine.steps(run.id)).shape?.output).toEqual({ said: awkward, got: sent });
	});

	it('fail the step, without retries or a request, when a header value holds a line break', async () => {
		const workflowId = await publish(
			[post({ headers: { 'x-note': 'Hi {{ input.note }}' } })],
			['note']
		);
		const before = echo.received.length;
		const run = await engine.waitFor(
			(await engine.start(workflowId, { note: 'x\r\nx-admin: true' })).id
		);

		expect(run.status).toBe('failed');
		expect(run.error).toMatchObject({ code: 'invalid_header' });
		expect((await engine.steps(run.id)).post?.attempt).toBe(1);
		expect(echo.received.length).toBe(before);
	});

	it('are refused when saved if a JSON body is not JSON', async () => {
		await expect(publish([post({ body: '{"name": {{ input.name }}' })])).rejects.toMatchObject({
			problems: [{ nodeId: 'post', message: expect.stringMatching(/^The text is not JSON/) }]
		});
	});
});
