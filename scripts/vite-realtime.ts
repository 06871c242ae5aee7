import type { Plugin, ViteDevServer } from 'vite';
import { isRealtimeRequest } from '../src/lib/server/realtime/path.ts';
import { heldRuntime } from '../src/lib/server/runtime-holder.js';

/**
 * `vite dev` serves `/ws` like server.js does in production: upgrades for that path go to the
 * realtime server of the dev runtime (started by hooks.server.ts `init`, started here when the
 * socket comes first). Vite's own HMR socket uses other upgrades and is left alone.
 */
export function realtimeDevServer(): Plugin {
	return {
		name: 'awe-realtime',
		apply: 'serve',
		configureServer(server) {
			server.httpServer?.on('upgrade', (request, socket, head) => {
				if (!isRealtimeRequest(request)) return;
				startedRuntime(server)
					.then((runtime) => {
						if (!runtime?.realtime) throw new Error('the AWE runtime did not start');
						runtime.realtime.handleUpgrade(request, socket, head);
					})
					.catch((error: unknown) => {
						server.config.logger.error(`realtime: ${String(error)}`);
						socket.destroy();
					});
			});
		}
	};
}

async function startedRuntime(server: ViteDevServer) {
	if (!heldRuntime()) {
		const hooks = await server.ssrLoadModule('/src/hooks.server.ts');
		await hooks.init?.();
	}
	return heldRuntime();
}
