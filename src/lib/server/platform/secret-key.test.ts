import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { resolveSecretKey } from './secret-key.ts';

let dataDir: string;
beforeEach(async () => {
	dataDir = await mkdtemp(path.join(tmpdir(), 'awe-key-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

describe('resolveSecretKey', () => {
	it('generates a key on first start, keeps it with mode 0600 and reuses it', async () => {
		const config = loadConfig({ DATA_DIR: dataDir });
		const first = await resolveSecretKey(config);
		expect(first.length).toBeGreaterThanOrEqual(32);
		const file = path.join(dataDir, 'secret.key');
		expect((await stat(file)).mode & 0o777).toBe(0o600);
		expect(await resolveSecretKey(config)).toBe(first);
		expect((await readFile(file, 'utf8')).trim()).toBe(first);
	});

	it('gives concurrent first starts the same key', async () => {
		const config = loadConfig({ DATA_DIR: dataDir });
		const keys = await Promise.all(Array.from({ length: 20 }, () => resolveSecretKey(config)));
		expect(new Set(keys).size).toBe(1);
		// No draft is left behind.
		expect(await readdir(dataDir)).toEqual(['secret.key']);
	});

	it('prefers AWE_SECRET_KEY and writes nothing', async () => {
		const key = 'x'.repeat(40);
		expect(await resolveSecretKey(loadConfig({ DATA_DIR: dataDir, AWE_SECRET_KEY: key }))).toBe(
			key
		);
		await expect(stat(path.join(dataDir, 'secret.key'))).rejects.toThrow();
	});

	it('refuses a truncated key file instead of silently using a weak key', async () => {
		await writeFile(path.join(dataDir, 'secret.key'), 'short');
		await expect(resolveSecretKey(loadConfig({ DATA_DIR: dataDir }))).rejects.toThrow(
			/no usable secret key/
		);
	});
});
