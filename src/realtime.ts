// `npm run realtime`: the WebSocket sidecar, serving /ws on REALTIME_PORT from PostgreSQL and Redis.
import { runRealtimeProcess } from './lib/server/realtime-process.ts';

try {
	await runRealtimeProcess();
} catch (error) {
	console.error(
		`AWE realtime could not start: ${error instanceof Error ? error.message : String(error)}`
	);
	process.exit(1);
}
