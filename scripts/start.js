// `npm start`: build when the build is missing or older than the sources, then run server.js.
import path from 'node:path';
import { buildIfStale, projectRoot } from './build-if-stale.js';

try {
	buildIfStale();
} catch (error) {
	console.error(error instanceof Error ? error.message : error);
	process.exit(1);
}
process.chdir(projectRoot);
process.argv[1] = path.join(projectRoot, 'server.js');
await import('../server.js');
