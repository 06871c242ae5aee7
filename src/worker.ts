// `npm run worker`: a process that executes workflow runs from the shared PostgreSQL queue.
import { runWorkerProcess } from './lib/server/worker-process.ts';

try {
	await runWorkerProcess();
} catch (error) {
	console.error(
		`AWE worker could not start: ${error instanceof Error ? error.message : String(error)}`
	);
	process.exit(1);
}
