// `npm run credentials:rotate`: re-encrypt every credential under the next key version, in one
// transaction, then exit. See docs/credentials.md.
import { createCredentialKeyring } from '../src/lib/server/credentials/keyring.ts';
import { openDatabase } from '../src/lib/server/db/index.ts';
import { migrationStatus } from '../src/lib/server/db/migrate.ts';
import { loadConfig } from '../src/lib/server/platform/config.ts';
import { resolveSecretKey } from '../src/lib/server/platform/secret-key.ts';
import { rotateCredentialKey } from '../src/lib/server/services/credentials.ts';

try {
	const config = loadConfig();
	const secretKey = await resolveSecretKey(config);
	const database = await openDatabase(
		config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }
	);
	try {
		const status = await migrationStatus(database);
		if (!status.upToDate)
			throw new Error('the database is not migrated: run `npm run db:migrate` first');
		const rotation = await rotateCredentialKey(
			{
				db: database.db,
				keys: { credentials: createCredentialKeyring(secretKey) },
				now: () => new Date()
			},
			{ ip: null, userAgent: 'npm run credentials:rotate' }
		);
		console.log(
			`Credential key rotated from version ${rotation.fromVersion} to ${rotation.toVersion}: ` +
				`${rotation.reencrypted} credential${rotation.reencrypted === 1 ? '' : 's'} re-encrypted (${database.driver}).`
		);
	} finally {
		await database.close();
	}
} catch (error) {
	console.error(
		`Rotation failed, nothing was changed: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`
	);
	process.exit(1);
}
