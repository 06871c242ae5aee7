import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { expectProblem, signUpFirst } from './support.ts';

// Input PostgreSQL cannot store, bodies too big or too deep, bodies of the wrong type: each gets a
// clear 4xx naming what is wrong, nothing is half-written, and nothing is logged as our failure.

const server = useAppServer();
let client: TestClient;
let workspaceId: string;

beforeAll(async () => {
	({ client, workspaceId } = await signUpFirst(server.url));
});

/** A JSON body as a client may really send it: escapes PostgreSQL refuses are legal JSON. */
function rawJson(path: string, method: string, body: string) {
	return client.request(path, {
		method,
		body,
		headers: { 'content-type': 'application/json', origin: client.origin }
	});
}

async function workspaceName(): Promise<string> {
	const response = await client.request(`/api/v1/workspaces/${workspaceId}`);
	return ((await response.json()) as { name: string }).name;
}

describe('API bodies', () => {
	it('refuse U+0000 and lone surrogates with 400 naming the field, changing nothing', async () => {
		const before = await workspaceName();
		for (const name of ['"a\\u0000b"', '"a\\ud800b"', '"\\udc00"']) {
			const response = await rawJson(
				`/api/v1/workspaces/${workspaceId}`,
				'PATCH',
				`{"name": ${name}}`
			);
			const problem = (await expectProblem(response, 400, 'invalid')) as unknown as {
				errors: Record<string, string>;
			};
			expect(Object.keys(problem.errors)).toEqual(['name']);
		}
		const key = await rawJson(`/api/v1/workspaces/${workspaceId}`, 'PATCH', '{"a\\u0000": 1}');
		await expectProblem(key, 400, 'invalid');
		expect(await workspaceName()).toBe(before);
	});

	it('refuse nesting too deep to store, and bodies over the size limit with 413', async () => {
		const deep = `{"name": "x", "extra": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
		await expectProblem(await rawJson('/api/v1/workspaces', 'POST', deep), 400, 'invalid');
		const huge = JSON.stringify({ name: 'x', padding: 'y'.repeat(600 * 1024) });
		await expectProblem(await rawJson('/api/v1/workspaces', 'POST', huge), 413, 'too-large');
	});

	it('refuse a run input that is not under "input", or misses a required field, naming it', async () => {
		const created = await client.json(`/api/v1/workspaces/${workspaceId}/workflows`, 'POST', {
			name: 'Echo',
			definition: {
				inputs: [{ name: 'name', type: 'string', required: true }],
				nodes: [
					{ id: 'start', kind: 'input' },
					{ id: 'done', kind: 'output' }
				],
				edges: [{ from: 'start', to: 'done' }]
			}
		});
		expect(created.status).toBe(201);
		const { id } = (await created.json()) as { id: string };
		const publish = `/api/v1/workspaces/${workspaceId}/workflows/${id}/versions/1/publish`;
		expect((await client.json(publish, 'POST', {})).status).toBe(200);
		const runs = `/api/v1/workspaces/${workspaceId}/workflows/${id}/runs`;
		const stray = (await expectProblem(
			await client.json(runs, 'POST', { n: 3 }),
			400,
			'invalid'
		)) as unknown as { errors: Record<string, string> };
		expect(stray.errors).toEqual({ n: expect.stringContaining('"input"') });
		const listed = await client.request(`/api/v1/workspaces/${workspaceId}/runs?workflowId=${id}`);
		expect(((await listed.json()) as { runs: unknown[] }).runs).toEqual([]);
		const missing = (await expectProblem(
			await client.json(runs, 'POST', { input: {} }),
			400,
			'invalid'
		)) as unknown as { errors: Record<string, string> };
		expect(Object.keys(missing.errors)).toEqual(['name']);
		expect((await client.json(runs, 'POST', { input: { name: 'Ada' } })).status).toBe(201);
	});
});

describe('forms', () => {
	it('refuse a field PostgreSQL cannot store with the field named', async () => {
		const response = await client.postForm(`/workspaces/${workspaceId}?/rename`, {
			name: 'bad\u0000name'
		});
		expect(response.status).toBe(400);
		expect(await workspaceName()).not.toContain('bad');
	});

	it('answer a form action posted as JSON, text or with no type with 415 and say so, logging nothing', async () => {
		const action = `/workspaces/${workspaceId}?/rename`;
		// JSON, and a body without a content type, are turned away by the framework.
		for (const type of ['application/json', null]) {
			const headers: Record<string, string> = {
				origin: client.origin,
				accept: 'application/json'
			};
			if (type) headers['content-type'] = type;
			const body = new TextEncoder().encode('{"name": "json"}');
			const response = await client.request(action, { method: 'POST', body, headers });
			expect(response.status).toBe(415);
			const answer = (await response.json()) as { error: { message: string } };
			expect(answer.error.message).toMatch(
				/^Forms are sent as application\/x-www-form-urlencoded or multipart\/form-data, not /
			);
		}
		// text/plain reaches the action, which cannot read it as a form.
		const text = await client.request(action, {
			method: 'POST',
			body: 'name=text',
			headers: { origin: client.origin, accept: 'text/html', 'content-type': 'text/plain' }
		});
		expect(text.status).toBe(415);
		expect(await text.text()).toContain('Forms are sent as application/x-www-form-urlencoded');
		expect(await workspaceName()).not.toMatch(/json|text/);
		expect(server.output()).not.toContain('unexpected error');
	});
});
