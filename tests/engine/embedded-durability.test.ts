import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as runsDb from '../../src/lib/server/db/runs.ts';
import { loadConfig } from '../../src/lib/server/platform/config.ts';
import { createRuntime, webRoles } from '../../src/lib/server/runtime.ts';
import { startWorkflowRun } from '../../src/lib/server/services/runs.ts';
import { createWorkflow, saveVersion } from '../../src/lib/server/services/workflows.ts';
import { listMyWorkspaces } from '../../src/lib/server/services/workspaces.ts';
import { meta, signUpUser } from '../helpers/services.ts';
import { scaled } from '../helpers/deadline.ts';

const dataDir = await mkdtemp(path.join(tmpdir(), 'awe-embedded-engine-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', BCRYPT_COST: '10' });

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
	const deadline = Date.now() + scaled(20_000);
	for (;;) {
		const value = await read();
		if (done(value) || Date.now() > deadline) return value;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

describe('embedded mode', () => {
	it('a run parked when the process stops finishes after it starts again', async () => {
		const first = await createRuntime(config, { roles: webRoles(config) });
		let runId: string;
		let workspaceId: string;
		try {
			expect(first.worker).not.toBeNull();
			const ctx = first.services;
			const owner = await signUpUser(ctx);
			workspaceId = (await listMyWorkspaces(ctx, owner.principal))[0]?.id as string;
			const workflow = await createWorkflow(
				ctx,
				owner.principal,
				workspaceId,
				{ name: 'Pause', description: '' },
				meta
			);
			await saveVersion(
				ctx,
				owner.principal,
				workspaceId,
				workflow.id,
				{
					definition: {
						nodes: [
							{ id: 'start', kind: 'input' },
							{ id: 'pause', kind: 'delay', config: { duration: '1500ms' } },
							{ id: 'done', kind: 'output', config: { value: '"resumed"' } }
						],
						edges: [
							{ from: 'start', to: 'pause' },
							{ from: 'pause', to: 'done' }
						]
					},
					note: '',
					publish: true
				},
				meta
			);
			const { run } = await startWorkflowRun(
				ctx,
				owner.principal,
				workspaceId,
				{ workflowId: workflow.id, input: {} },
				meta
			);
			runId = run.id;
			const parked = await until(
				() => runsDb.get(ctx.db, workspaceId, runId),
				(value) => value?.status === 'waiting'
			);
			expect(parked?.status).toBe('waiting');
		} finally {
			await first.close();
		}

		const second = await createRuntime(config, { roles: webRoles(config) });
		try {
			const finished = await until(
				() => runsDb.get(second.services.db, workspaceId, runId),
				(value) => value?.status === 'succeeded'
			);
			expect(finished?.status).toBe('succeeded');
			expect(finished?.output).toBe('resumed');
		} finally {
			await second.close();
		}
	});
});
