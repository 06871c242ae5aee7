// `npm run db:migrate`: apply the committed migrations to the configured database, then exit.
import { openDatabase } from '../src/lib/server/db/index.ts';
import { migrateDatabase, migrationStatus } from '../src/lib/server/db/migrate.ts';
import { loadConfig } from '../src/lib/server/platform/config.ts';

try {
	const config = loadConfig();
	const database = await openDatabase(
		config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }
	);
	try {
		await migrateDatabase(database);
		const status = await migrationStatus(database);
		console.log(
			`Migrations applied: ${status.applied} of ${status.expected} (${database.driver}).`
		);
	} finally {
		await database.close();
	}
} catch (error) {
	console.error(
		`Migration failed: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`
	);
	process.exit(1);
}
