import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { longestScaled, waitUntil } from './deadline.ts';
import { startedPids, startProcess, stopStartedProcesses } from './processes.ts';

const run = promisify(execFile);
const idle = ['-e', 'setInterval(() => {}, 1000)'];
const env = { PATH: process.env.PATH ?? '' };

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
	const stat = `/proc/${pid}/stat`;
	if (existsSync('/proc/self/stat')) {
		if (!existsSync(stat)) return false;
		const state = readFileSync(stat, 'utf8').split(') ')[1]?.[0];
		return state !== 'Z' && state !== 'X';
	}
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

const gone = (pid: number) =>
	waitUntil(() => !isRunning(pid), { what: `pid ${pid} to be gone`, baseMs: 5_000 });

let folder: string;
beforeAll(async () => {
	folder = await mkdtemp(path.join(tmpdir(), 'awe-processes-'));
	// The deadlines in these tests are short on purpose: no scaling by the machine's load.
	vi.stubEnv('TEST_TIMEOUT_SCALE', '1');
});
afterAll(async () => {
	vi.unstubAllEnvs();
	await rm(folder, { recursive: true, force: true });
});

describe('startProcess', () => {
	it('waits until it is ready; stop() ends it and then runs its cleanup', async () => {
		const cleanup = vi.fn(async () => {});
		const started = await startProcess(
			process.execPath,
			['-e', 'setTimeout(() => console.log("ready"), 100); setInterval(() => {}, 1000)'],
			{
				name: 'late starter',
				env,
				ready: {
					what: "'ready' in its output",
					baseMs: 10_000,
					check: (out) => out.includes('ready')
				},
				cleanup
			}
		);
		expect(started.output()).toContain('ready');
		expect(startedPids()).toContain(started.pid);
		await started.stop();
		expect(isRunning(started.pid)).toBe(false);
		expect(startedPids()).not.toContain(started.pid);
		expect(cleanup).toHaveBeenCalledOnce();
	});

	it('stops a process that does not become ready, and says what it waited for', async () => {
		const cleanup = vi.fn(async () => {});
		const starting = startProcess(
			process.execPath,
			['-e', 'console.log("still warming up"); setInterval(() => {}, 1000)'],
			{
				name: 'slow server',
				env,
				ready: { what: 'GET /readyz to answer 200', baseMs: 300, check: () => false },
				cleanup
			}
		);
		const error = await starting.then(
			() => null,
			(failure: unknown) => failure as Error
		);
		expect(error?.message).toMatch(
			/^slow server \(pid \d+\): GET \/readyz to answer 200: gave up waiting after \d+\.\d s \(deadline 0\.3 s × 1\.0: TEST_TIMEOUT_SCALE=1\)\nits output:\nstill warming up$/
		);
		const pid = Number(/pid (\d+)/.exec(error?.message ?? '')?.[1]);
		expect(isRunning(pid)).toBe(false);
		expect(startedPids()).not.toContain(pid);
		expect(cleanup).toHaveBeenCalledOnce();
	});

	it('reports a process that exits before it is ready, with its output', async () => {
		const starting = startProcess(
			process.execPath,
			['-e', 'console.error("no database"); process.exit(3)'],
			{
				name: 'worker',
				env,
				ready: { what: "'worker ready' in its log", baseMs: 60_000, check: () => false }
			}
		);
		await expect(starting).rejects.toThrow(
			/^worker \(pid \d+\): 'worker ready' in its log: it exited \(3\) after \d+\.\d s\nits output:\nno database$/
		);
	});

	it('kills a process that ignores SIGTERM once the grace has passed', async () => {
		const started = await startProcess(
			process.execPath,
			['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'],
			{
				name: 'stubborn',
				env,
				ready: { what: 'ready', baseMs: 10_000, check: (out) => out.includes('ready') }
			}
		);
		await started.stop(200);
		expect(started.child.signalCode).toBe('SIGKILL');
		expect(isRunning(started.pid)).toBe(false);
	});
});

describe('what a test leaves behind', () => {
	it('is stopped by stopStartedProcesses (the afterAll of every test file)', async () => {
		const cleanup = vi.fn(async () => {});
		const left = await startProcess(process.execPath, idle, { name: 'left', env, cleanup });
		expect(isRunning(left.pid)).toBe(true);
		await stopStartedProcesses();
		expect(isRunning(left.pid)).toBe(false);
		expect(cleanup).toHaveBeenCalledOnce();
	});

	it(
		'is stopped when a hook that started it times out',
		{ timeout: longestScaled(60_000) },
		async () => {
			const pidFile = path.join(folder, 'child.pid');
			const vitest = path.resolve('node_modules/vitest/vitest.mjs');
			const result = await run(
				process.execPath,
				[vitest, 'run', '--config', path.resolve('tests/helpers/fixtures/vitest.config.ts')],
				{ env: { ...env, CHILD_PID_FILE: pidFile, TEST_TIMEOUT_SCALE: '1' } }
			).then(
				() => ({ failed: false, output: '' }),
				(error: { stdout: string; stderr: string }) => ({
					failed: true,
					output: error.stdout + error.stderr
				})
			);
			expect(result.failed).toBe(true);
			expect(result.output).toContain('Hook timed out');
			const pid = Number(await readFile(pidFile, 'utf8'));
			expect(pid).toBeGreaterThan(0);
			await gone(pid);
			expect(isRunning(pid)).toBe(false);
		}
	);

	for (const ending of ['exit', 'throw', 'signal'] as const) {
		it(`is killed when the process that started it ends (${ending === 'signal' ? 'SIGTERM' : ending})`, async () => {
			const parent = await startProcess(
				process.execPath,
				[
					'--experimental-strip-types',
					'--no-warnings=ExperimentalWarning',
					'tests/helpers/fixtures/leave-a-child.ts',
					ending
				],
				{
					name: 'parent',
					env,
					ready: { what: 'its child', baseMs: 20_000, check: (out) => /child \d+/.test(out) }
				}
			);
			const pid = Number(/child (\d+)/.exec(parent.output())?.[1]);
			expect(isRunning(pid)).toBe(true);
			parent.child.kill(ending === 'signal' ? 'SIGTERM' : 'SIGUSR2');
			await parent.exited;
			await gone(pid);
			expect(isRunning(pid)).toBe(false);
			await parent.stop();
		});
	}
});
