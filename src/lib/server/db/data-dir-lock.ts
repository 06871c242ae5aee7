import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * PGlite happily opens a data directory another process already has open, and two writers corrupt
 * it. A pid file guards the directory: a live owner refuses the newcomer, a dead one's file is taken over.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
	const file = path.resolve(dataDir, 'awe.lock');
	if (heldHere.has(file)) throw new Error(`${dataDir} is already open in this process`);
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			await writeFile(file, String(process.pid), { flag: 'wx' });
			heldHere.add(file);
			return async () => {
				heldHere.delete(file);
				if ((await ownerOf(file)) === process.pid) await unlink(file);
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		const owner = await ownerOf(file);
		if (owner !== null && owner !== process.pid && isAlive(owner)) {
			throw new Error(`${dataDir} is in use by another AWE process (pid ${owner})`);
		}
		await unlink(file).catch(() => {});
	}
	throw new Error(`could not lock ${dataDir}`);
}

// Our own pid in a file we do not hold is a leftover (a container restarted with the same pid).
const heldHere = new Set<string>();

async function ownerOf(file: string): Promise<number | null> {
	const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
	return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: the process exists but belongs to someone else.
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}
