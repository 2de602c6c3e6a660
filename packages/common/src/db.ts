// Database access shared by the subgraphs (`@giftpay/common/db`): a postgres.js pool wrapped
// by drizzle, and migrations applied at start over one connection, under an advisory lock so
// replicas starting together never run them twice. Not in the package's main entry, so the
// gateway, which has no database, never loads drizzle or the driver (about half a second of
// CPU at each start); what the errors need is in database-errors.ts. postgres.js 3.4.9 is patched
// (patches/postgres@3.4.9.patch) so a lost connection fails its queries instead of crashing
// the process, hanging them, or running a dead transaction's remainder outside it.

import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres, { type Sql } from 'postgres';
import { ConfigError } from './config.ts';
import { type DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS, reconnectDelaySeconds } from './database-errors.ts';
import type { Logger } from './logger.ts';

export interface DatabaseOptions {
  readonly applicationName: string;
  readonly maxConnections: number;
  /** Bounded waits (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS): a stuck row lock costs one request, not the service. */
  readonly timeouts?: DatabaseTimeouts;
}

export interface Database<TSchema extends Record<string, unknown>> {
  readonly db: PostgresJsDatabase<TSchema>;
  readonly sql: Sql;
  close(): Promise<void>;
}

export function connectDatabase<TSchema extends Record<string, unknown>>(url: string, schema: TSchema, options: DatabaseOptions): Database<TSchema> {
  const timeouts = options.timeouts ?? DEFAULT_DATABASE_TIMEOUTS;
  const sql = postgres(url, {
    max: options.maxConnections,
    idle_timeout: 30,
    connect_timeout: 5,
    backoff: reconnectDelaySeconds,
    connection: {
      application_name: options.applicationName,
      statement_timeout: timeouts.statementMs,
      lock_timeout: timeouts.lockMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    },
    onnotice: () => {},
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

/** A lock id every GiftPay service uses while migrating, so migrations never interleave. */
const MIGRATION_LOCK_ID = 7_431_902_001;

export async function applyMigrations(url: string, options: { migrationsFolder: string; migrationsTable: string }): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder: options.migrationsFolder, migrationsTable: options.migrationsTable, migrationsSchema: 'drizzle' });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Refuses, at start, a pool larger than the server could ever give this service
 * (`max_connections` less the connections reserved for superusers), naming DB_POOL_MAX; and
 * warns when the connections already open leave less room than the pool may take. The sum
 * over replicas and services cannot be known from one process: docs/operations.md has it.
 */
export async function checkPoolFits(sql: Sql, poolMax: number, logger: Pick<Logger, 'warn'>): Promise<void> {
  const [row] = await sql<{ max: number; reserved: number; open: number }[]>`
    select current_setting('max_connections')::int as max,
      current_setting('superuser_reserved_connections')::int as reserved,
      (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as open`;
  if (!row) return;
  const allowed = row.max - row.reserved;
  if (poolMax > allowed) {
    throw new ConfigError(
      'DB_POOL_MAX',
      `is ${poolMax}, more than the ${allowed} connections this PostgreSQL server allows (max_connections ${row.max} less ${row.reserved} reserved); lower DB_POOL_MAX or raise max_connections`,
    );
  }
  if (row.open + poolMax > allowed) {
    logger.warn(
      { poolMax, maxConnections: row.max, open: row.open },
      'DB_POOL_MAX may not fit: with the connections already open, PostgreSQL may refuse some of this pool (replicas × services × DB_POOL_MAX must stay under max_connections)',
    );
  }
}
