// `npm run realtime`: the WebSocket sidecar, serving /ws on REALTIME_PORT from PostgreSQL and Redis.
import { serveRealtimeSidecar } from './lib/server/realtime/sidecar.ts';
import { exitOnStartFailure, runProcess } from './lib/server/run-process.ts';

await runProcess('realtime', ['realtime'], { serve: serveRealtimeSidecar }).catch(
	exitOnStartFailure('realtime')
);
