import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir } from './data-dir-lock.ts';

let dataDir: string;
beforeEach(async () => {
	dataDir = await mkdtemp(path.join(tmpdir(), 'awe-lock-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

const lockFile = () => path.join(dataDir, 'awe.lock');

describe('lockDataDir', () => {
	it('records the owner and removes the lock on release', async () => {
		const release = await lockDataDir(dataDir);
		expect(await readFile(lockFile(), 'utf8')).toBe(String(process.pid));
		await release();
		await expect(stat(lockFile())).rejects.toThrow();
	});

	it('refuses a second open in the same process', async () => {
		const release = await lockDataDir(dataDir);
		await expect(lockDataDir(dataDir)).rejects.toThrow('already open in this process');
		await release();
	});

	it('treats its own pid in a lock it does not hold as a leftover', async () => {
		await writeFile(lockFile(), String(process.pid));
		const release = await lockDataDir(dataDir);
		await release();
		await expect(stat(lockFile())).rejects.toThrow();
	});

	it('refuses a directory held by another live process', async () => {
		const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
		try {
			await writeFile(lockFile(), String(other.pid));
			await expect(lockDataDir(dataDir)).rejects.toThrow(
				`in use by another AWE process (pid ${other.pid})`
			);
		} finally {
			other.kill();
		}
	});

	it('takes over the lock of a process that has died', async () => {
		const dead = spawn(process.execPath, ['-e', '']);
		await new Promise((resolve) => dead.on('exit', resolve));
		await writeFile(lockFile(), String(dead.pid));
		const release = await lockDataDir(dataDir);
		expect(await readFile(lockFile(), 'utf8')).toBe(String(process.pid));
		await release();
	});
});
