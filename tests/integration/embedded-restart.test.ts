import { eq } from 'drizzle-orm';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { users } from '../../src/lib/server/db/schema/index.ts';
import { loadConfig } from '../../src/lib/server/platform/config.ts';
import { createLogger } from '../../src/lib/server/platform/logger.ts';
import { checkReadiness, createRuntime, webRoles } from '../../src/lib/server/runtime.ts';

const dataDir = await mkdtemp(path.join(tmpdir(), 'awe-embedded-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
const logger = createLogger(config);

describe('embedded mode', () => {
	it('keeps data and the secret key across a restart', async () => {
		const first = await createRuntime(config, { roles: webRoles(config), logger });
		try {
			expect(first.database.driver).toBe('pglite');
			expect(first.bus.kind).toBe('in-process');
			expect((await checkReadiness(first)).ready).toBe(true);
			// A second process on the same directory would corrupt it; it must be refused instead.
			await expect(createRuntime(config, { roles: webRoles(config), logger })).rejects.toThrow(
				/already open in this process/
			);
			await first.database.db
				.insert(users)
				.values({ email: 'persist@example.com', name: 'Persisted', passwordHash: 'x' });
		} finally {
			await first.close();
		}

		const second = await createRuntime(config, { roles: webRoles(config), logger });
		try {
			const found = await second.database.db
				.select()
				.from(users)
				.where(eq(users.email, 'persist@example.com'));
			expect(found.map((user) => user.name)).toEqual(['Persisted']);
			expect(second.services.keys.pepper.equals(first.services.keys.pepper)).toBe(true);
			expect((await checkReadiness(second)).ready).toBe(true);
		} finally {
			await second.close();
		}
	});
});
