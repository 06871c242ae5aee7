import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppServer } from '../helpers/app-server.ts';
import type { TestClient } from '../helpers/http-client.ts';
import { expectProblem, signUpFirst, signUpInvited } from '../security/support.ts';

/**
 * The workflow, run and approval API against the production build; its embedded worker executes
 * the runs, so tests wait for the state they need by asking the API again.
 */

// On PostgreSQL the web process runs no worker unless told to; these tests need runs to execute.
const app = useAppServer({ IN_PROCESS_WORKER: 'true' });

interface Run {
	id: string;
	status: string;
	output: unknown;
	error: { code: string } | null;
	rerunOf: string | null;
	trigger: string;
}
interface Step {
	id: string;
	nodeId: string;
	status: string;
	input: unknown;
	output: unknown;
	reused: boolean;
}
interface RunDetail {
	run: Run;
	steps: Step[];
	version: number;
	workflowName: string;
}

let owner: TestClient;
let viewer: TestClient;
let workspace: string;

const greeter = (greeting: string) => ({
	inputs: [{ name: 'name', type: 'string', required: true }],
	nodes: [
		{ id: 'start', kind: 'input' },
		{ id: 'shout', kind: 'transform', config: { expression: '$uppercase(name)' } },
		{
			id: 'greet',
			kind: 'template',
			config: { template: `${greeting} {{ steps.shout.output }}!` }
		},
		{ id: 'done', kind: 'output' }
	],
	edges: [
		{ from: 'start', to: 'shout' },
		{ from: 'shout', to: 'greet' },
		{ from: 'greet', to: 'done' }
	]
});

function path(rest = '', workspaceId = workspace): string {
	return `/api/v1/workspaces/${workspaceId}${rest}`;
}

function post(client: TestClient, url: string, body: unknown = {}, headers = {}) {
	return client.json(url, 'POST', body, headers);
}

async function read<T>(response: Response, status = 200): Promise<T> {
	expect(response.status).toBe(status);
	return (await response.json()) as T;
}

/** Creates a workflow (version 1) and publishes it; returns its id. */
async function publishedWorkflow(name: string, definition: unknown): Promise<string> {
	const created = await read<{ id: string; latestVersion: number }>(
		await post(owner, path('/workflows'), { name, definition }),
		201
	);
	expect(created.latestVersion).toBe(1);
	await read(await post(owner, path(`/workflows/${created.id}/versions/1/publish`)));
	return created.id;
}

async function startRun(workflowId: string, input: unknown): Promise<Run> {
	const { run } = await read<{ run: Run }>(
		await post(owner, path(`/workflows/${workflowId}/runs`), { input }),
		201
	);
	return run;
}

async function runDetail(runId: string): Promise<RunDetail> {
	return read<RunDetail>(await owner.request(path(`/runs/${runId}`)));
}

/** Asks again until `done` holds; the test's own timeout ends a wait that never would. */
async function eventually<T>(ask: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
	for (;;) {
		const value = await ask();
		if (done(value)) return value;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

const finished = (detail: RunDetail) =>
	['succeeded', 'failed', 'cancelled'].includes(detail.run.status);

function stepsByNode(steps: Step[]): Record<string, Step> {
	return Object.fromEntries(steps.map((step) => [step.nodeId, step]));
}

beforeAll(async () => {
	const first = await signUpFirst(app.url);
	owner = first.client;
	workspace = first.workspaceId;
	viewer = (await signUpInvited(app.url, owner, workspace, 'viewer')).client;
});

describe('workflows and versions', () => {
	it('refuses an invalid definition with each problem located, then saves and publishes a valid one', async () => {
		const created = await read<{ id: string }>(
			await post(owner, path('/workflows'), { name: 'Greeter', description: 'Says hello' }),
			201
		);
		const versions = path(`/workflows/${created.id}/versions`);
		const invalid = {
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'shout', kind: 'transform', config: {} }
			],
			edges: [
				{ from: 'start', to: 'shout' },
				{ from: 'shout', to: 'nowhere' }
			]
		};
		const refused = await post(owner, versions, { definition: invalid, publish: true });
		const problem = (await expectProblem(refused, 400, 'invalid')) as unknown as {
			problems: { nodeId?: string; path: string; message: string }[];
		};
		expect(problem.problems).toEqual(
			expect.arrayContaining([
				expect.objectContaining({ nodeId: 'shout', path: 'nodes[1].config.expression' }),
				expect.objectContaining({ path: 'edges[1].to' })
			])
		);

		const check = path(`/workflows/${created.id}/validate`);
		const checked = await read<{ problems: unknown[] }>(
			await post(owner, check, { definition: invalid })
		);
		expect(checked.problems).toEqual(problem.problems);
		expect(await read(await post(owner, check, { definition: greeter('Hello') }))).toEqual({
			problems: []
		});

		const saved = await read<{ number: number; note: string }>(
			await post(owner, versions, { definition: greeter('Hello'), note: 'First', publish: true }),
			201
		);
		expect(saved).toMatchObject({ number: 2, note: 'First' });
		const listed = await read<{ number: number }[]>(await owner.request(versions));
		expect(listed.map((version) => version.number)).toEqual([2, 1]);
		const detail = await read<{
			workflow: { name: string; latestVersion: number };
			latest: { number: number; definition: { nodes: { id: string }[] } };
			published: number;
		}>(await owner.request(path(`/workflows/${created.id}`)));
		expect(detail).toMatchObject({
			workflow: { name: 'Greeter', latestVersion: 2 },
			latest: { number: 2 },
			published: 2
		});
		expect(detail.latest.definition.nodes.map((node) => node.id)).toEqual([
			'start',
			'shout',
			'greet',
			'done'
		]);
		const second = await read<{ definition: unknown }>(await owner.request(`${versions}/2`));
		expect(second.definition).toEqual(detail.latest.definition);
	});

	it('renames without touching the description, and deletes', async () => {
		const workflowId = await publishedWorkflow('Old name', greeter('Hello'));
		const url = path(`/workflows/${workflowId}`);
		await read(await owner.json(url, 'PATCH', { description: 'Kept' }));
		const renamed = await read<{ name: string; description: string }>(
			await owner.json(url, 'PATCH', { name: 'New name' })
		);
		expect(renamed).toMatchObject({ name: 'New name', description: 'Kept' });
		await expectProblem(await owner.json(url, 'PATCH', {}), 400, 'invalid');
		const listed = await read<{ id: string; publishedNumber: number }[]>(
			await owner.request(path('/workflows'))
		);
		expect(listed).toContainEqual(expect.objectContaining({ id: workflowId, publishedNumber: 1 }));

		const deleted = await owner.request(url, {
			method: 'DELETE',
			headers: { origin: owner.origin }
		});
		expect(deleted.status).toBe(204);
		await expectProblem(await owner.request(url), 404, 'not-found');
	});

	it('diffs two versions line by line', async () => {
		const created = await read<{ id: string }>(
			await post(owner, path('/workflows'), { name: 'Diffed', definition: greeter('Hello') }),
			201
		);
		const base = path(`/workflows/${created.id}`);
		await read(await post(owner, `${base}/versions`, { definition: greeter('Goodbye') }), 201);
		const diff = await read<{ from: number; to: number; identical: boolean; patch: string }>(
			await owner.request(`${base}/diff?from=1&to=2`)
		);
		expect(diff).toMatchObject({ from: 1, to: 2, identical: false });
		const changed = diff.patch.split('\n').filter((line) => /^[-+]\s/.test(line));
		expect(changed).toEqual([
			expect.stringMatching(/^-\s+"template": "Hello \{\{ steps\.shout\.output \}\}!"/),
			expect.stringMatching(/^\+\s+"template": "Goodbye \{\{ steps\.shout\.output \}\}!"/)
		]);
		const same = await read<{ identical: boolean }>(
			await owner.request(`${base}/diff?from=2&to=2`)
		);
		expect(same.identical).toBe(true);
		await expectProblem(await owner.request(`${base}/diff?from=1`), 400, 'invalid');
		await expectProblem(await owner.request(`${base}/diff?from=1&to=9`), 404, 'not-found');
	});

	it('exports a version as a download that imports as a new workflow, executing nothing', async () => {
		const workflowId = await publishedWorkflow('Exported flow', greeter('Hello'));
		const response = await owner.request(path(`/workflows/${workflowId}/export?version=1`));
		expect(response.status).toBe(200);
		expect(response.headers.get('content-disposition')).toBe(
			'attachment; filename="exported-flow.awe.json"'
		);
		const exported = (await response.json()) as { format: string; definition: unknown };
		expect(exported).toMatchObject({ format: 'awe.workflow/v1', name: 'Exported flow' });

		const imported = await read<{ id: string; name: string }>(
			await post(owner, path('/workflows/import'), exported),
			201
		);
		expect(imported.id).not.toBe(workflowId);
		expect(imported.name).toBe('Exported flow');
		const detail = await read<{ latest: { definition: unknown }; published: number | null }>(
			await owner.request(path(`/workflows/${imported.id}`))
		);
		expect(detail.latest.definition).toEqual(exported.definition);
		expect(detail.published).toBeNull();
		const runs = await read<{ runs: unknown[] }>(
			await owner.request(path(`/runs?workflowId=${imported.id}`))
		);
		expect(runs.runs).toEqual([]);

		await expectProblem(
			await post(owner, path('/workflows/import'), { format: 'something else' }),
			400,
			'invalid'
		);
	});

	it('serves the JSON Schema of a definition to signed-in callers', async () => {
		const schema = await read<{
			type: string;
			properties: { nodes: { type: string } };
			'x-awe-kinds': { kind: string; configSchema: unknown }[];
		}>(await owner.request('/api/v1/workflow-schema'));
		expect(schema.type).toBe('object');
		expect(schema.properties.nodes.type).toBe('array');
		const kinds = schema['x-awe-kinds'].map((entry) => entry.kind);
		expect(kinds).toEqual(expect.arrayContaining(['transform', 'map', 'http', 'agent', 'llm']));
		// Child kinds run an agent's turns and tool calls: never a node of their own.
		expect(kinds).not.toContain('agent.turn');
		const agent = schema['x-awe-kinds'].find((entry) => entry.kind === 'agent');
		expect(JSON.stringify(agent?.configSchema)).toContain('outputSchema');
		await expectProblem(await fetch(`${app.url}/api/v1/workflow-schema`), 401, 'unauthorized');
	});
});

describe('runs', () => {
	let greeterId: string;
	let succeededRunId: string;

	beforeAll(async () => {
		greeterId = await publishedWorkflow('Run greeter', greeter('Hello'));
	});

	it('starts one run per Idempotency-Key, also for 20 requests at once', async () => {
		const url = path(`/workflows/${greeterId}/runs`);
		const headers = { 'idempotency-key': `order-${randomUUID()}` };
		const responses = await Promise.all(
			Array.from({ length: 20 }, () => post(owner, url, { input: { name: 'ada' } }, headers))
		);
		const bodies = await Promise.all(
			responses.map((response) => response.json() as Promise<{ run: Run }>)
		);
		expect(responses.map((response) => response.status).sort()).toEqual([
			...Array<number>(19).fill(200),
			201
		]);
		const ids = new Set(bodies.map((body) => body.run.id));
		expect(ids.size).toBe(1);

		const conflict = await post(owner, url, { input: { name: 'grace' } }, headers);
		await expectProblem(conflict, 409, 'conflict');
		await expectProblem(
			await post(owner, url, { input: { name: 'ada' } }, { 'idempotency-key': 'k'.repeat(256) }),
			400,
			'invalid'
		);
		const runs = await read<{ runs: { id: string }[] }>(
			await owner.request(path(`/runs?workflowId=${greeterId}`))
		);
		expect(runs.runs.map((run) => run.id)).toEqual([...ids]);
	});

	it('runs to completion with its output, steps and events', async () => {
		const started = await startRun(greeterId, { name: 'ada' });
		const detail = await eventually(() => runDetail(started.id), finished);
		expect(detail.run).toMatchObject({
			status: 'succeeded',
			output: 'Hello ADA!',
			trigger: 'manual'
		});
		expect(detail).toMatchObject({ version: 1, workflowName: 'Run greeter' });
		const steps = stepsByNode(detail.steps);
		expect(Object.keys(steps).sort()).toEqual(['done', 'greet', 'shout', 'start']);
		expect(steps.shout).toMatchObject({
			status: 'succeeded',
			input: { name: 'ada' },
			output: 'ADA'
		});
		succeededRunId = started.id;

		const listed = await read<Step[]>(await owner.request(path(`/runs/${started.id}/steps`)));
		expect(listed).toEqual(detail.steps);
		const shoutId = steps.shout?.id ?? '';
		const one = await read<Step>(await owner.request(path(`/runs/${started.id}/steps/${shoutId}`)));
		expect(one).toEqual(steps.shout);
		await expectProblem(
			await owner.request(path(`/runs/${started.id}/steps/${randomUUID()}`)),
			404,
			'not-found'
		);

		const events = await read<{ seq: number; type: string }[]>(
			await owner.request(path(`/runs/${started.id}/events?afterSeq=0`))
		);
		expect(events[0]?.type).toBe('run.queued');
		expect(events.at(-1)?.type).toBe('run.succeeded');
		expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
		const later = await read<unknown[]>(
			await owner.request(path(`/runs/${started.id}/events?afterSeq=${events.length - 1}`))
		);
		expect(later).toEqual([events.at(-1)]);

		const filtered = await read<{ runs: { id: string }[] }>(
			await owner.request(path(`/runs?workflowId=${greeterId}&status=succeeded,failed&limit=200`))
		);
		expect(filtered.runs.map((run) => run.id)).toContain(started.id);
		await expectProblem(await owner.request(path('/runs?status=lost')), 400, 'invalid');
	});

	it('pages through runs with `next`', async () => {
		const first = await read<{ runs: { id: string }[]; next: string | null }>(
			await owner.request(path(`/runs?workflowId=${greeterId}&limit=1`))
		);
		expect(first.runs).toHaveLength(1);
		expect(first.next).toBe(first.runs[0]?.id);
		const second = await read<{ runs: { id: string }[]; next: string | null }>(
			await owner.request(path(`/runs?workflowId=${greeterId}&limit=1&before=${first.next}`))
		);
		expect(second.runs).toHaveLength(1);
		expect(second.runs[0]?.id).not.toBe(first.runs[0]?.id);
	});

	it('cancels a run waiting on a delay', async () => {
		const workflowId = await publishedWorkflow('Sleeper', {
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'pause', kind: 'delay', config: { duration: '1h' } },
				{ id: 'done', kind: 'output' }
			],
			edges: [
				{ from: 'start', to: 'pause' },
				{ from: 'pause', to: 'done' }
			]
		});
		const started = await startRun(workflowId, {});
		await eventually(
			() => runDetail(started.id),
			(detail) => stepsByNode(detail.steps).pause?.status === 'waiting'
		);
		const cancelled = await read<Run>(await post(owner, path(`/runs/${started.id}/cancel`)));
		expect(cancelled.status).toBe('cancelled');
		const detail = await runDetail(started.id);
		expect(detail.run.status).toBe('cancelled');
		expect(stepsByNode(detail.steps).done?.status).not.toBe('succeeded');
		await expectProblem(await post(owner, path(`/runs/${started.id}/cancel`)), 409, 'conflict');
	});

	it('retries a failed run as a new run that reuses the steps that succeeded', async () => {
		const workflowId = await publishedWorkflow('Doomed', {
			inputs: [{ name: 'name', type: 'string', required: true }],
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'shout', kind: 'transform', config: { expression: '$uppercase(name)' } },
				{ id: 'boom', kind: 'fail', config: { message: 'No {{ input.name }}', code: 'doomed' } }
			],
			edges: [
				{ from: 'start', to: 'shout' },
				{ from: 'shout', to: 'boom' }
			]
		});
		const started = await startRun(workflowId, { name: 'ada' });
		const failed = await eventually(() => runDetail(started.id), finished);
		expect(failed.run.status).toBe('failed');

		const retry = await read<Run>(await post(owner, path(`/runs/${started.id}/retry`)), 201);
		expect(retry).toMatchObject({ rerunOf: started.id, trigger: 'rerun' });
		expect(retry.id).not.toBe(started.id);
		const retried = await eventually(() => runDetail(retry.id), finished);
		expect(retried.run.status).toBe('failed');
		const steps = stepsByNode(retried.steps);
		expect(steps.start?.reused).toBe(true);
		expect(steps.shout).toMatchObject({ reused: true, output: 'ADA' });
		expect(steps.boom).toMatchObject({ reused: false, status: 'failed' });

		await expectProblem(await post(owner, path(`/runs/${succeededRunId}/retry`)), 409, 'conflict');
	});

	it('re-runs from a step with its input edited', async () => {
		const rerun = await read<Run>(
			await post(owner, path(`/runs/${succeededRunId}/rerun`), {
				fromNodeId: 'shout',
				input: { name: 'grace' }
			}),
			201
		);
		expect(rerun.rerunOf).toBe(succeededRunId);
		const detail = await eventually(() => runDetail(rerun.id), finished);
		expect(detail.run).toMatchObject({ status: 'succeeded', output: 'Hello GRACE!' });
		const steps = stepsByNode(detail.steps);
		expect(steps.start?.reused).toBe(true);
		expect(steps.shout).toMatchObject({ reused: false, input: { name: 'grace' } });

		await expectProblem(
			await post(owner, path(`/runs/${succeededRunId}/rerun`), { fromNodeId: 'nowhere' }),
			400,
			'invalid'
		);
	});
});

describe('approvals', () => {
	it('waits for a person, who approves, and the run follows the approved branch', async () => {
		const workflowId = await publishedWorkflow('Gated', {
			inputs: [{ name: 'name', type: 'string', required: true }],
			nodes: [
				{ id: 'start', kind: 'input' },
				{ id: 'gate', kind: 'approval', config: { title: 'Ship {{ input.name }}?' } },
				{ id: 'done', kind: 'output' },
				{ id: 'stop', kind: 'fail', config: { message: 'Rejected' } }
			],
			edges: [
				{ from: 'start', to: 'gate' },
				{ from: 'gate', to: 'done', branch: 'approved' },
				{ from: 'gate', to: 'stop', branch: 'rejected' }
			]
		});
		const started = await startRun(workflowId, { name: 'v2' });
		type Approval = { id: string; runId: string; title: string; status: string };
		const pending = await eventually(
			async () =>
				read<Approval[]>(await owner.request(path('/approvals?status=pending'))).then((approvals) =>
					approvals.find((approval) => approval.runId === started.id)
				),
			(approval) => approval !== undefined
		);
		expect(pending).toMatchObject({ title: 'Ship v2?', status: 'pending' });
		const url = path(`/approvals/${pending?.id ?? ''}`);

		await expectProblem(await post(viewer, url, { decision: 'approve' }), 403, 'forbidden');
		await expectProblem(await post(owner, url, { decision: 'maybe' }), 400, 'invalid');
		const decided = await read<Approval & { comment: string }>(
			await post(owner, url, { decision: 'approve', comment: 'Looks good' })
		);
		expect(decided).toMatchObject({ status: 'approved', comment: 'Looks good' });
		await expectProblem(await post(owner, url, { decision: 'reject' }), 409, 'conflict');

		const detail = await eventually(() => runDetail(started.id), finished);
		expect(detail.run.status).toBe('succeeded');
		expect(detail.run.output).toMatchObject({ approved: true, comment: 'Looks good' });
		expect(stepsByNode(detail.steps).stop?.status).not.toBe('failed');
		const stillPending = await read<Approval[]>(
			await owner.request(path('/approvals?status=pending'))
		);
		expect(stillPending.map((approval) => approval.id)).not.toContain(pending?.id);
	});
});

describe('access', () => {
	let workflowId: string;
	let runId: string;

	beforeAll(async () => {
		workflowId = await publishedWorkflow('Guarded', greeter('Hello'));
		runId = (await startRun(workflowId, { name: 'ada' })).id;
	});

	it('lets a viewer read but not write or run', async () => {
		await read(await viewer.request(path('/workflows')));
		await read(await viewer.request(path(`/workflows/${workflowId}`)));
		await read(await viewer.request(path(`/runs/${runId}`)));
		const base = path(`/workflows/${workflowId}`);
		const writes = [
			post(viewer, path('/workflows'), { name: 'Mine now' }),
			viewer.json(base, 'PATCH', { name: 'Mine now' }),
			viewer.request(base, { method: 'DELETE', headers: { origin: viewer.origin } }),
			post(viewer, `${base}/versions`, { definition: greeter('Hi'), publish: true }),
			post(viewer, `${base}/versions/1/publish`),
			post(viewer, `${base}/runs`, { input: { name: 'eve' } }),
			post(viewer, path(`/runs/${runId}/rerun`), { fromNodeId: 'shout' }),
			post(viewer, path(`/runs/${runId}/cancel`))
		];
		for (const response of await Promise.all(writes)) {
			await expectProblem(response, 403, 'forbidden');
		}
		const detail = await read<{ workflow: { name: string }; latest: { number: number } }>(
			await owner.request(base)
		);
		expect(detail).toMatchObject({ workflow: { name: 'Guarded' }, latest: { number: 1 } });
	});

	it('answers 404 for another workspace and for ids that are not there', async () => {
		const other = await read<{ id: string }>(
			await post(owner, '/api/v1/workspaces', { name: 'Elsewhere' }),
			201
		);
		await expectProblem(await viewer.request(path('/workflows', other.id)), 404, 'not-found');
		// The owner is a member of both, but the ids belong to the first.
		await expectProblem(
			await owner.request(path(`/workflows/${workflowId}`, other.id)),
			404,
			'not-found'
		);
		await expectProblem(await owner.request(path(`/runs/${runId}`, other.id)), 404, 'not-found');
		await expectProblem(
			await post(owner, path(`/workflows/${workflowId}/runs`, other.id), { input: {} }),
			404,
			'not-found'
		);
		for (const url of [
			path('/workflows/not-a-uuid'),
			path('/workflows/not-a-uuid/versions/1'),
			path(`/workflows/${workflowId}/versions/one`),
			path(`/workflows/${workflowId}/versions/99999999999`),
			path('/workflows/not-a-uuid/diff?from=1&to=1'),
			path('/runs/not-a-uuid'),
			path('/runs/not-a-uuid/events')
		]) {
			await expectProblem(await owner.request(url), 404, 'not-found');
		}
		await expectProblem(
			await post(owner, path('/approvals/not-a-uuid'), { decision: 'approve' }),
			404,
			'not-found'
		);
	});
});
