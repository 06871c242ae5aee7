import type { AnyNodeKind } from './engine/kinds/types.ts';
import { loadConfig } from './platform/config.ts';
import { createLogger } from './platform/logger.ts';
import { createRuntime, type Role, type Runtime } from './runtime.ts';

export interface ProcessOptions {
	/** Node kinds beyond the built-in ones (the fault tests' probe). */
	extraKinds?: readonly AnyNodeKind[];
	/** Starts what the process listens on; returns how to stop listening (before the runtime closes). */
	serve?: (runtime: Runtime) => Promise<() => Promise<void>>;
}

/**
 * A process apart from the web server (`npm run worker`, `npm run realtime`): builds the runtime for
 * `roles`, then on SIGTERM/SIGINT stops serving, closes the runtime (in-flight steps get
 * SHUTDOWN_TIMEOUT) and exits.
 */
export async function runProcess(
	name: string,
	roles: readonly Role[],
	options: ProcessOptions = {}
): Promise<Runtime> {
	const config = loadConfig();
	const logger = createLogger(config).child({ process: name });
	const runtime = await createRuntime(config, { roles, logger, extraKinds: options.extraKinds });
	let stopServing = async () => {};
	try {
		if (options.serve) stopServing = await options.serve(runtime);
	} catch (error) {
		await runtime.close();
		throw error;
	}
	let stopping = false;
	const stop = (signal: NodeJS.Signals) => {
		if (stopping) return;
		stopping = true;
		logger.info({ signal }, `${name} stopping`);
		stopServing()
			.then(() => runtime.close())
			.then(
				() => process.exit(0),
				(error: unknown) => {
					logger.error({ err: error }, 'shutdown failed');
					process.exit(1);
				}
			);
	};
	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
	logger.info(
		{ roles, workerId: runtime.worker?.id, concurrency: config.WORKER_CONCURRENCY },
		`${name} ready`
	);
	return runtime;
}

/** What an entry point does when its process cannot start: one line, exit code 1. */
export function exitOnStartFailure(name: string) {
	return (error: unknown) => {
		console.error(
			`AWE ${name} could not start: ${error instanceof Error ? error.message : String(error)}`
		);
		process.exit(1);
	};
}
