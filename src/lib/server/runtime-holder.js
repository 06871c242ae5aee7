// The one place a process keeps its runtime. Plain JavaScript so that server.js and the Vite plugin
// (outside the SvelteKit bundle) import it as it is; the bundle gets its own copy of this module,
// so the runtime itself sits on globalThis, under a key only this file spells.
const runtimeKey = Symbol.for('awe.runtime');

/** @typedef {import('./runtime.ts').Runtime} Runtime */

const holder = /** @type {{ [runtimeKey]?: Runtime }} */ (/** @type {unknown} */ (globalThis));

/** @param {Runtime} runtime */
export function holdRuntime(runtime) {
	holder[runtimeKey] = runtime;
}

/** The process's runtime, or undefined before it started. @returns {Runtime | undefined} */
export function heldRuntime() {
	return holder[runtimeKey];
}

/** The process's runtime; throws before it started. @returns {Runtime} */
export function currentRuntime() {
	const runtime = holder[runtimeKey];
	if (!runtime) throw new Error('the AWE runtime has not been started');
	return runtime;
}
