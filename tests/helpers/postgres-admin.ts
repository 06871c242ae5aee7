import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The same server as `url`, another database. */
export function databaseUrl(url: string, database: string): string {
	const next = new URL(url);
	next.pathname = `/${database}`;
	return next.toString();
}

export function uniqueDatabaseName(prefix: string): string {
	return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Runs one statement on a short-lived admin connection (CREATE/DROP DATABASE cannot run in a pool's transaction). */
export async function adminStatement(url: string, statement: string): Promise<void> {
	const admin = postgres(url, { max: 1, onnotice: () => {} });
	try {
		await admin.unsafe(statement);
	} finally {
		await admin.end({ timeout: 5 });
	}
}
