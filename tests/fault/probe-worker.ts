// A real worker process with the test probe kind registered; each probe execution is recorded in
// the `probe_executions` table (created by the fault tests) with this process's pid.
import postgres from 'postgres';
import { runProcess } from '../../src/lib/server/run-process.ts';
import { createProbeKind } from '../helpers/probe-kind.ts';

const client = postgres(process.env.DATABASE_URL as string, { max: 2, onnotice: () => {} });

await runProcess('worker', ['worker'], {
	extraKinds: [
		createProbeKind(async (execution) => {
			await client`
				insert into probe_executions (label, idempotency_key, attempt, pid)
				values (${execution.label}, ${execution.idempotencyKey}, ${execution.attempt}, ${process.pid})
			`;
		})
	]
});
