import { applyCredential, credentialSecrets } from '../credentials/apply.ts';
import type { CredentialKeyring } from '../credentials/keyring.ts';
import type { Db } from '../db/index.ts';
import { createCodeKind } from '../engine/kinds/code.ts';
import { createHttpKind, type CredentialResolver } from '../engine/kinds/http.ts';
import { StepFailure, type AnyNodeKind } from '../engine/kinds/types.ts';
import { createGuardedHttp, type GuardedHttp } from '../outbound/guarded-http.ts';
import type { HttpAllowEntry } from '../outbound/allow-list.ts';
import { createSandboxPool, type SandboxFetch, type SandboxPool } from '../sandbox/pool.ts';
import { ServiceError } from '../services/context.ts';
import { resolveCredential } from '../services/credentials.ts';
import { runInputSchema } from '../../schemas/workflow.ts';
import * as runsDb from '../db/runs.ts';
import * as workflowsDb from '../db/workflows.ts';
import { startRun } from '../engine/run-control.ts';
import { UnreadableCredentialError } from '../credentials/keyring.ts';
import { ToolError, ToolRegistry, builtInTools } from './registry.ts';

/** What the `http` and `code` nodes (and the tools) run on, shared by a process. */
export interface Tooling {
	http: GuardedHttp;
	sandbox: SandboxPool;
	credentials: CredentialResolver;
	kinds: AnyNodeKind[];
	/** The built-in tools (a workspace's custom tools are added to a copy). */
	tools: ToolRegistry;
	close(): Promise<void>;
}

export interface ToolingOptions {
	db: Db;
	keyring: CredentialKeyring;
	/** AWE_HTTP_ALLOW. */
	allow: readonly HttpAllowEntry[];
	/** Code runner processes; started on first use. */
	codeRunners: number;
	now?: () => Date;
}

/** Guest `fetch` in the sandbox goes through the guarded client like everything else. */
export function sandboxFetchThrough(http: GuardedHttp): SandboxFetch {
	return async (request, { signal }) => {
		const response = await http.request({ ...request, signal });
		return {
			status: response.status,
			headers: Object.fromEntries(response.headers),
			body: response.body.toString('utf8')
		};
	};
}

/** A pool whose runner processes start when code first runs: most processes never run any. */
function lazySandbox(create: () => SandboxPool): SandboxPool {
	let pool: SandboxPool | null = null;
	return {
		run: (request) => (pool ??= create()).run(request),
		runnerPids: () => pool?.runnerPids() ?? [],
		close: async () => {
			await pool?.close();
			pool = null;
		}
	};
}

export function createTooling(options: ToolingOptions): Tooling {
	const http = createGuardedHttp({ allow: options.allow });
	const sandbox = lazySandbox(() =>
		createSandboxPool({ size: options.codeRunners, fetch: sandboxFetchThrough(http) })
	);
	const context = {
		db: options.db,
		keys: { credentials: options.keyring },
		now: options.now ?? (() => new Date())
	};
	const credentials: CredentialResolver = async (workspaceId, credentialId) => {
		try {
			const credential = await resolveCredential(context, workspaceId, credentialId);
			return { headers: applyCredential(credential), secrets: credentialSecrets(credential) };
		} catch (error) {
			if (error instanceof ServiceError && error.type === 'not-found') {
				throw new StepFailure('credential_not_found', 'The credential does not exist.', {
					retryable: false
				});
			}
			if (error instanceof UnreadableCredentialError) {
				throw new StepFailure('credential_unreadable', error.message, { retryable: false });
			}
			throw error;
		}
	};
	return {
		http,
		sandbox,
		credentials,
		kinds: [createHttpKind({ http, credentials }), createCodeKind({ sandbox, credentials })],
		tools: new ToolRegistry(
			builtInTools({
				http,
				sandbox,
				runWorkflow: (workspaceId, workflowId, input, signal) =>
					runPublishedWorkflow(options.db, workspaceId, workflowId, input, signal)
			})
		),
		async close() {
			await sandbox.close();
			http.close();
		}
	};
}

const finished = new Set(['succeeded', 'failed', 'cancelled']);

/** Starts a run of the workflow's published version and polls until it ends (or `signal` aborts). */
async function runPublishedWorkflow(
	db: Db,
	workspaceId: string,
	workflowId: string,
	input: unknown,
	signal: AbortSignal
): Promise<unknown> {
	const workflow = await workflowsDb.get(db, workspaceId, workflowId);
	const version =
		workflow?.publishedVersionId &&
		(await workflowsDb.getVersionById(db, workspaceId, workflow.publishedVersionId));
	if (!workflow || !version) {
		throw new ToolError(
			'workflow_not_found',
			'No published workflow has this id in the workspace.'
		);
	}
	const parsed = runInputSchema(version.definition.inputs).safeParse(input);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new ToolError(
			'invalid_input',
			`The input does not match the workflow's inputs: ${issue?.path.join('.') || 'input'} ${issue?.message ?? ''}`.trim()
		);
	}
	const { runId } = await startRun(db, {
		workspaceId,
		workflowId,
		versionId: version.id,
		definition: version.definition,
		input: parsed.data,
		trigger: 'workflow',
		createdBy: null
	});
	for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
		const run = await runsDb.get(db, workspaceId, runId);
		if (run && finished.has(run.status)) {
			if (run.status === 'succeeded') return run.output;
			throw new ToolError('workflow_failed', `The workflow run ${runId} ended ${run.status}.`);
		}
		signal.throwIfAborted();
		await new Promise((resolve) => setTimeout(resolve, delay));
	}
}
