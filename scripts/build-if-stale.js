// Builds the app when build/ is missing or older than its sources. Used by `npm start` and the HTTP tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const projectRoot = path.resolve(import.meta.dirname, '..');
const builtMarker = path.join(projectRoot, 'build', 'handler.js');
const sources = ['src', 'static', 'drizzle', 'package.json', 'svelte.config.js', 'vite.config.ts'];

/** @param {string} file @returns {number} */
function newestChange(file) {
	const stat = statSync(file);
	if (!stat.isDirectory()) return stat.mtimeMs;
	let newest = stat.mtimeMs;
	for (const entry of readdirSync(file)) {
		newest = Math.max(newest, newestChange(path.join(file, entry)));
	}
	return newest;
}

/** @returns {boolean} whether a build ran */
export function buildIfStale() {
	const builtAt = existsSync(builtMarker) ? statSync(builtMarker).mtimeMs : 0;
	const changedAt = Math.max(
		...sources
			.map((source) => path.join(projectRoot, source))
			.filter(existsSync)
			.map(newestChange)
	);
	if (changedAt <= builtAt) return false;
	console.log(
		builtAt === 0
			? 'Building AWE before its first start (this can take a minute or two)…'
			: 'The sources changed since the last build: building AWE again…'
	);
	const startedAt = performance.now();
	const build = spawnSync(process.execPath, [path.join(projectRoot, 'scripts/vite-build.js')], {
		cwd: projectRoot,
		stdio: 'inherit'
	});
	if (build.status !== 0) throw new Error(`vite build failed with exit code ${build.status}`);
	console.log(`Built in ${Math.round((performance.now() - startedAt) / 1000)} s.`);
	return true;
}
