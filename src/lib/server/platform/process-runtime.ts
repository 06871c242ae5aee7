import type { Runtime } from '../runtime.ts';

// The runtime lives on globalThis so that server.js (outside the Vite bundle) can close it on shutdown
// and a dev-server reload of hooks.server.ts reuses it instead of opening the database twice.
const runtimeKey = Symbol.for('awe.runtime');
const holder = globalThis as typeof globalThis & { [runtimeKey]?: Runtime };

export function registerRuntime(runtime: Runtime): void {
	holder[runtimeKey] = runtime;
}

export function registeredRuntime(): Runtime | undefined {
	return holder[runtimeKey];
}

export function currentRuntime(): Runtime {
	const runtime = holder[runtimeKey];
	if (!runtime) throw new Error('the AWE runtime has not been started');
	return runtime;
}
