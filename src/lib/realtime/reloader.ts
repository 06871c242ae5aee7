/**
 * Calls `reload` at once, then, however often it is asked for meanwhile, once more when that call
 * finished and at least `intervalMs` passed: a reload never overtakes (and so cancels) another.
 */
export function createReloader(reload: () => Promise<unknown>, intervalMs: number) {
	let running = false;
	let wanted = false;
	let stopped = false;
	async function loop() {
		running = true;
		while (wanted && !stopped) {
			wanted = false;
			const pause = new Promise((resolve) => setTimeout(resolve, intervalMs));
			await Promise.all([reload().catch(() => {}), pause]);
		}
		running = false;
	}
	return {
		request() {
			wanted = true;
			if (!running) void loop();
		},
		stop() {
			stopped = true;
		}
	};
}
