import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.ts';

const keyFileName = 'secret.key';

/**
 * The server secret: AWE_SECRET_KEY when given, otherwise (embedded mode) a random key generated on
 * first start and kept in $DATA_DIR with mode 0600, so restarts keep sessions and encrypted data valid.
 */
export async function resolveSecretKey(config: Config): Promise<string> {
	if (config.AWE_SECRET_KEY) return config.AWE_SECRET_KEY;
	const file = path.join(config.DATA_DIR, keyFileName);
	await mkdir(config.DATA_DIR, { recursive: true });
	// Written whole under a name of its own, then linked into place: the link fails when the file
	// exists, so two processes starting together cannot overwrite each other, and neither can read
	// the other's key half written (as a file created, then written, could be read).
	const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
	await writeFile(draft, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
	try {
		await link(draft, file);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
	} finally {
		await rm(draft, { force: true });
	}
	await chmod(file, 0o600);
	const key = (await readFile(file, 'utf8')).trim();
	if (key.length < 32) throw new Error(`${file} holds no usable secret key (under 32 characters)`);
	return key;
}
