// `npm run worker`: a process that executes workflow runs from the shared PostgreSQL queue.
import { exitOnStartFailure, runProcess } from './lib/server/run-process.ts';

await runProcess('worker', ['worker']).catch(exitOnStartFailure('worker'));
