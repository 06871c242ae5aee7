import { defineConfig } from 'drizzle-kit';

// Only `drizzle-kit generate` uses this file: it diffs the schema against the committed
// migrations and needs no database. Migrations are applied by the app (see src/lib/server/db/migrate.ts).
export default defineConfig({
	schema: './src/lib/server/db/schema/index.ts',
	out: './drizzle',
	dialect: 'postgresql',
	verbose: true,
	strict: true
});
