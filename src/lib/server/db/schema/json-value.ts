import { customType } from 'drizzle-orm/pg-core';

/**
 * A `jsonb` column holding any JSON value. Both drivers (postgres.js and PGlite) already parse
 * `jsonb`, and drizzle's own `jsonb` column parses again any value that arrives as a string: a run
 * output of the text "42" would read back as the number 42, and "true" as a boolean. This column
 * takes the driver's value as it is.
 */
export const jsonValue = customType<{ data: unknown; driverData: unknown }>({
	dataType: () => 'jsonb',
	toDriver: (value) => JSON.stringify(value),
	fromDriver: (value) => value
});
