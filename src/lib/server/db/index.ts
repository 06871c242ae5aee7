import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import { lockDataDir } from './data-dir-lock.ts';
import * as schema from './schema/index.ts';

export { schema };

/** The query API both drivers share; services and query modules depend on this, never on a driver. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseDriver = 'pglite' | 'postgres';

export interface Database {
	readonly db: Db;
	readonly driver: DatabaseDriver;
	/** Runs the callback on one connection held for its duration (PGlite only has one). */
	withDedicatedConnection<T>(callback: (connection: DedicatedConnection) => Promise<T>): Promise<T>;
	/** LISTEN on a channel; the handler runs for each NOTIFY committed by anyone. */
	listen(channel: string, handler: () => void): Promise<() => Promise<void>>;
	close(): Promise<void>;
}

export interface DedicatedConnection {
	db: Db;
	exec(query: string): Promise<unknown>;
}

export type DatabaseOptions =
	| { url: string; maxConnections?: number; connectTimeoutSeconds?: number }
	/** Embedded: the data directory ($DATA_DIR); the database lives in its `pg` folder. */
	| { dataDir: string }
	| { pglite: PGlite };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
	if ('url' in options) return openPostgres(options);
	let client: PGlite;
	let unlock = async () => {};
	if ('pglite' in options) {
		client = options.pglite;
	} else {
		await mkdir(options.dataDir, { recursive: true });
		unlock = await lockDataDir(options.dataDir);
		try {
			client = await PGlite.create(path.join(options.dataDir, 'pg'));
		} catch (error) {
			await unlock();
			throw error;
		}
	}
	const db = drizzlePglite({ client, schema }) as unknown as Db;
	return {
		db,
		driver: 'pglite',
		withDedicatedConnection: (callback) => callback({ db, exec: (query) => client.exec(query) }),
		listen: (channel, handler) => client.listen(channel, handler),
		close: async () => {
			if (!client.closed) await client.close();
			await unlock();
		}
	};
}

function openPostgres(options: {
	url: string;
	maxConnections?: number;
	connectTimeoutSeconds?: number;
}): Database {
	const connect = (max: number) =>
		postgres(options.url, {
			max,
			connect_timeout: options.connectTimeoutSeconds ?? 10,
			onnotice: () => {}
		});
	const client = connect(options.maxConnections ?? 10);
	return {
		db: drizzlePostgres({ client: preparingEverything(client), schema }) as unknown as Db,
		driver: 'postgres',
		withDedicatedConnection: async (callback) => {
			// A client of its own with one connection, so session state (locks) cannot leak into the pool.
			const single = connect(1);
			try {
				const db = drizzlePostgres({ client: single, schema }) as unknown as Db;
				return await callback({ db, exec: (query) => single.unsafe(query) });
			} finally {
				await single.end({ timeout: 5 });
			}
		},
		listen: async (channel, handler) => {
			// postgres.js keeps one connection for LISTEN and re-issues it after a reconnect.
			const { unlisten } = await client.listen(channel, handler);
			return unlisten;
		},
		close: () => client.end({ timeout: 5 })
	};
}

/**
 * postgres.js prepares a statement once per connection when asked to, but drizzle only asks for
 * queries given a name, and the engine's queue queries are raw SQL. Preparing all of them saves a
 * parse and a plan on every execution (about 40% of a workflow step's database time). Transactions
 * and savepoints hand out their own client, so those are wrapped too.
 */
function preparingEverything(client: postgres.Sql): postgres.Sql {
	return new Proxy(client, {
		get(target, key, receiver) {
			if (key === 'unsafe') {
				return (query: string, parameters?: postgres.ParameterOrJSON<never>[], options?: object) =>
					target.unsafe(query, parameters, { ...options, prepare: true });
			}
			if (key === 'begin' || key === 'savepoint') {
				return (...args: unknown[]) => {
					const callback = args.pop() as (inner: postgres.Sql) => unknown;
					const open = Reflect.get(target, key, receiver) as (...rest: unknown[]) => unknown;
					return open.call(target, ...args, (inner: postgres.Sql) =>
						callback(preparingEverything(inner))
					);
				};
			}
			return Reflect.get(target, key, receiver);
		}
	});
}

/** Round-trips a trivial query; rejects when the database cannot answer. */
export async function pingDatabase(database: Database): Promise<void> {
	await database.db.execute(sql`select 1`);
}
