import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../../src/lib/server/outbound/test-server.ts';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { signUpFirst } from './support.ts';

/**
 * Importing (or validating) a workflow that holds code and HTTP calls executes none of it; the same
 * workflow, published and run, does reach the server — so the silence below means something.
 */

const echo = await startTestServer((request, response) => {
	response.writeHead(200, { 'content-type': 'application/json' });
	response.end(JSON.stringify({ path: request.url }));
});
const app = useAppServer({
	IN_PROCESS_WORKER: 'true',
	AWE_HTTP_ALLOW: `127.0.0.1:${echo.port}`
});
afterAll(() => echo.close());

let owner: TestClient;
let workspace: string;
beforeAll(async () => {
	({ client: owner, workspaceId: workspace } = await signUpFirst(app.url));
});

const path = (rest: string) => `/api/v1/workspaces/${workspace}${rest}`;

const document = {
	format: 'awe.workflow/v1',
	name: 'Calls home',
	definition: {
		inputs: [],
		nodes: [
			{ id: 'start', kind: 'input' },
			{ id: 'call', kind: 'http', config: { url: `http://127.0.0.1:${echo.port}/from-http` } },
			{
				id: 'code',
				kind: 'code',
				config: {
					allowFetch: true,
					source: `const r = await fetch('http://127.0.0.1:${echo.port}/from-code'); return (await r.json()).path`
				}
			}
		],
		edges: [
			{ from: 'start', to: 'call' },
			{ from: 'call', to: 'code' }
		]
	}
};

describe('importing a workflow that holds code', () => {
	it('runs nothing; running it later does', async () => {
		const imported = await owner.json(path('/workflows/import'), 'POST', document);
		expect(imported.status).toBe(201);
		const { id } = (await imported.json()) as { id: string };
		const validated = await owner.json(path(`/workflows/${id}/validate`), 'POST', {
			definition: document.definition
		});
		expect(await validated.json()).toEqual({ problems: [] });
		await new Promise((resolve) => setTimeout(resolve, 500));
		expect(echo.received).toEqual([]);
		const runs = (await (await owner.request(path(`/runs?workflowId=${id}`))).json()) as {
			runs: unknown[];
		};
		expect(runs.runs).toEqual([]);

		// Published and run on purpose, both nodes reach the allowed server.
		expect((await owner.json(path(`/workflows/${id}/versions/1/publish`), 'POST', {})).status).toBe(
			200
		);
		const started = await owner.json(path(`/workflows/${id}/runs`), 'POST', { input: {} });
		expect(started.status).toBe(201);
		const { run } = (await started.json()) as { run: { id: string } };
		let detail: {
			run: { status: string; output: unknown };
			steps: { nodeId: string; output: unknown }[];
		};
		do {
			await new Promise((resolve) => setTimeout(resolve, 50));
			detail = (await (await owner.request(path(`/runs/${run.id}`))).json()) as typeof detail;
		} while (!['succeeded', 'failed', 'cancelled'].includes(detail.run.status));
		expect(detail.run.status).toBe('succeeded');
		expect(echo.received.map((request) => request.url)).toEqual(['/from-http', '/from-code']);
		expect(detail.steps.find((step) => step.nodeId === 'code')?.output).toBe('/from-code');
	});
});
