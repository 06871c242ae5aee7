import type { CredentialValue } from '../../schemas/credentials.ts';
import { applyCredential, credentialSecrets } from '../credentials/apply.ts';
import { UnreadableCredentialError } from '../credentials/keyring.ts';
import { createCodeKind } from '../engine/kinds/code.ts';
import { createHttpKind, type CredentialResolver } from '../engine/kinds/http.ts';
import { StepFailure, type AnyNodeKind } from '../engine/kinds/types.ts';
import { createGuardedHttp, type GuardedHttp } from '../outbound/guarded-http.ts';
import type { HttpAllowEntry } from '../platform/http-allow.ts';
import { createSandboxPool, type SandboxFetch, type SandboxPool } from '../sandbox/pool.ts';
import { ToolRegistry, builtInTools } from './registry.ts';

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

/**
 * A workspace's credential, decrypted, or null when it has none by that id. Given by the services
 * layer: steps use credentials on behalf of the run, which was authorized when it started.
 */
export type CredentialLookup = (
	workspaceId: string,
	credentialId: string
) => Promise<CredentialValue | null>;

export interface ToolingOptions {
	lookupCredential: CredentialLookup;
	/** AWE_HTTP_ALLOW. */
	allow: readonly HttpAllowEntry[];
	/** Code runner processes; started on first use. */
	codeRunners: number;
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
	const credentials: CredentialResolver = async (workspaceId, credentialId) => {
		let credential;
		try {
			credential = await options.lookupCredential(workspaceId, credentialId);
		} catch (error) {
			if (error instanceof UnreadableCredentialError) {
				throw new StepFailure('credential_unreadable', error.message, { retryable: false });
			}
			throw error;
		}
		if (credential === null) {
			throw new StepFailure('credential_not_found', 'The credential does not exist.', {
				retryable: false
			});
		}
		return { headers: applyCredential(credential), secrets: credentialSecrets(credential) };
	};
	return {
		http,
		sandbox,
		credentials,
		kinds: [createHttpKind({ http, credentials }), createCodeKind({ sandbox, credentials })],
		tools: new ToolRegistry(
			builtInTools({
				http,
				sandbox
			})
		),
		async close() {
			await sandbox.close();
			http.close();
		}
	};
}
