import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function migrateWith(env: Record<string, string>) {
	return spawnSync(
		process.execPath,
		['--experimental-strip-types', '--no-warnings=ExperimentalWarning', 'scripts/db-migrate.ts'],
		{ env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 }
	);
}

describe('a process started with a bad configuration', () => {
	it('exits non-zero with one line naming the variable', () => {
		const result = migrateWith({ DATABASE_URL: 'postgres//oops', AWE_SECRET_KEY: 's'.repeat(40) });
		expect(result.status).toBe(1);
		const lines = result.stderr.trim().split('\n');
		expect(lines).toHaveLength(1);
		expect(lines[0]).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
	});
});
