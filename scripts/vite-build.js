// `vite build` for `npm start` and the tests: its output streams through, except SvelteKit's hint to
// run `npm run preview`, which is meant for developers and would mislead someone starting AWE.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const vite = path.resolve(import.meta.dirname, '../node_modules/vite/bin/vite.js');
const build = spawn(process.execPath, [vite, 'build'], { stdio: ['inherit', 'pipe', 'inherit'] });
const lines = createInterface({ input: build.stdout, crlfDelay: Infinity });
lines.on('line', (line) => {
	if (!line.includes('npm run preview')) console.log(line);
});
const [code, signal] = await new Promise((resolve) =>
	build.on('close', (...outcome) => resolve(outcome))
);
process.exitCode = code ?? (signal ? 1 : 0);
