// `npm start`: build when the build is missing or older than the sources, then run server.js.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const builtMarker = path.join(root, 'build', 'handler.js');
const sources = ['src', 'static', 'drizzle', 'package.json', 'svelte.config.js', 'vite.config.ts'];

/** @param {string} file @returns {number} */
function newestChange(file) {
	const stat = statSync(file);
	if (!stat.isDirectory()) return stat.mtimeMs;
	let newest = stat.mtimeMs;
	for (const entry of readdirSync(file))
		newest = Math.max(newest, newestChange(path.join(file, entry)));
	return newest;
}

const builtAt = existsSync(builtMarker) ? statSync(builtMarker).mtimeMs : 0;
const changedAt = Math.max(
	...sources
		.map((source) => path.join(root, source))
		.filter(existsSync)
		.map(newestChange)
);
if (changedAt > builtAt) {
	console.log('Building AWE…');
	const build = spawnSync(
		process.execPath,
		[path.join(root, 'node_modules/vite/bin/vite.js'), 'build'],
		{
			cwd: root,
			stdio: 'inherit'
		}
	);
	if (build.status !== 0) process.exit(build.status ?? 1);
}

process.chdir(root);
process.argv[1] = path.join(root, 'server.js');
await import('../server.js');
