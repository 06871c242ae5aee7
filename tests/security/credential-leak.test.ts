import { sql } from 'drizzle-orm';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialKeyring } from '../../src/lib/server/credentials/keyring.ts';
import { rows } from '../../src/lib/server/db/migrate.ts';
import { startTestServer, type TestServer } from '../../src/lib/server/outbound/test-server.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { createCredential, credentialLookup } from '../../src/lib/server/services/credentials.ts';
import { createTooling, type Tooling } from '../../src/lib/server/tools/tooling.ts';
import { useTestDatabase } from '../helpers/database.ts';
import { createEngineHarness, type EngineHarness } from '../helpers/engine.ts';
import { meta, testSecret } from '../helpers/services.ts';

/**
 * A credential is stored, then used by workflows that succeed and fail with it: an echo server
 * reflects it, code logs it, returns it and throws it. Afterwards no table and no log line may hold
 * the value, in any spelling a redactor knows (plain, URL-encoded, base64).
 */

const testDb = useTestDatabase();
const token = `sk-leak-${Math.random().toString(36).slice(2)}-0123456789`;
const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
const logLines: string[] = [];
let echo: TestServer;
let tooling: Tooling;
let engine: EngineHarness;
let bearerId: string;
let basicId: string;

beforeAll(async () => {
	echo = await startTestServer((request, response) => {
		const status = request.url.startsWith('/fail') ? 500 : 200;
		response.writeHead(status, { 'content-type': 'application/json' });
		response.end(JSON.stringify({ url: request.url, headers: request.headers }));
	});
	const logger = createLogger(
		{ LOG_LEVEL: 'trace', NODE_ENV: 'test' },
		new Writable({
			write(chunk: Buffer, _encoding, done) {
				logLines.push(chunk.toString());
				done();
			}
		})
	);
	tooling = createTooling({
		// The key the harness's services use (createTestServices).
		lookupCredential: credentialLookup({
			db: testDb.database.db,
			keys: { credentials: createCredentialKeyring(testSecret) },
			now: () => new Date()
		}),
		allow: [{ host: '127.0.0.1', port: echo.port }],
		codeRunners: 1
	});
	engine = await createEngineHarness(testDb.database, tooling.kinds, { logger });
	const create = (input: Parameters<typeof createCredential>[3]) =>
		createCredential(engine.ctx, engine.owner.principal, engine.workspaceId, input, meta);
	bearerId = (await create({ kind: 'bearer', name: 'API token', token })).id;
	basicId = (await create({ kind: 'basic', name: 'Login', username: 'ada', password })).id;
	await engine.startWorker({ concurrency: 2 });
});
afterAll(async () => {
	await engine.stopWorkers();
	await tooling.close();
	await echo.close();
});

const run = async (nodes: unknown[], edges: unknown[] = []) => {
	const workflowId = await engine.publish({
		nodes: [{ id: 'start', kind: 'input' }, ...nodes],
		edges: [{ from: 'start', to: (nodes[0] as { id: string }).id }, ...edges]
	});
	return engine.waitFor((await engine.start(workflowId, {})).id);
};

const spellings = (secret: string) => [
	secret,
	encodeURIComponent(secret),
	Buffer.from(secret).toString('base64'),
	Buffer.from(`ada:${secret}`).toString('base64')
];

describe('credential values never leak', () => {
	it('stay out of every table and every log line after runs that use them and fail with them', async () => {
		const url = `http://127.0.0.1:${echo.port}`;
		const reflected = await run(
			[
				{ id: 'call', kind: 'http', config: { url: `${url}/ok`, credentialId: bearerId } },
				{ id: 'basic', kind: 'http', config: { url: `${url}/ok`, credentialId: basicId } },
				{ id: 'copy', kind: 'transform', config: { expression: '$steps.call.output.body' } }
			],
			[
				{ from: 'call', to: 'basic' },
				{ from: 'basic', to: 'copy' }
			]
		);
		expect(reflected.status).toBe('succeeded');
		// The echo server did get the real value: the credential was applied host-side.
		expect(echo.received.map((request) => request.headers.authorization)).toContain(
			`Bearer ${token}`
		);

		const failedHttp = await run([
			{
				id: 'call',
				kind: 'http',
				config: { url: `${url}/fail`, credentialId: bearerId },
				retry: { maxAttempts: 2, initialDelayMs: 10 }
			}
		]);
		expect(failedHttp.status).toBe('failed');

		const code = await run([
			{
				id: 'leaky',
				kind: 'code',
				config: {
					source:
						'console.log("token is", data.secrets.t, encodeURIComponent(data.secrets.t)); return { again: data.secrets.t, p: data.secrets.p }',
					secrets: { t: bearerId, p: basicId }
				}
			}
		]);
		expect(code.status).toBe('succeeded');
		const thrown = await run([
			{
				id: 'thrower',
				kind: 'code',
				config: {
					source: 'console.error(data.secrets.t); throw new Error("boom " + data.secrets.t)',
					secrets: { t: bearerId }
				}
			}
		]);
		expect(thrown.status).toBe('failed');
		expect(thrown.error?.message).toContain('[redacted]');

		const tables = rows<{ table_name: string }>(
			await testDb.database.db.execute(sql`
				select table_name from information_schema.tables
				where table_schema = 'public' and table_type = 'BASE TABLE'
			`)
		).map((row) => row.table_name);
		expect(tables).toEqual(
			expect.arrayContaining(['credentials', 'run_steps', 'run_events', 'runs'])
		);
		const dump: string[] = [];
		for (const table of tables) {
			const result = await testDb.database.db.execute(
				sql.raw(`select to_jsonb(t)::text as row from "${table}" t`)
			);
			dump.push(...rows<{ row: string }>(result).map((row) => row.row));
		}
		const everything = dump.join('\n');
		const logs = logLines.join('');
		expect(logs.length).toBeGreaterThan(0);
		for (const secret of [token, password]) {
			for (const spelling of spellings(secret)) {
				expect(everything).not.toContain(spelling);
				expect(logs).not.toContain(spelling);
			}
		}
		// What was recorded in their place.
		expect(everything).toContain('[redacted]');
	});
});
