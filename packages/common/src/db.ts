// Database access shared by the subgraphs: a postgres.js pool wrapped by drizzle, and
// migrations applied at start over one connection, under an advisory lock so replicas
// starting together never run them twice. postgres.js 3.4.9 is patched
// (patches/postgres@3.4.9.patch) so a lost connection fails its queries instead of crashing
// the process, hanging them, or running a dead transaction's remainder outside it.

import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres, { type Sql } from 'postgres';
import { ConfigError } from './config.ts';
import type { Logger } from './logger.ts';

export interface DatabaseOptions {
  readonly applicationName: string;
  readonly maxConnections: number;
  /** Bounded waits (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS): a stuck row lock costs one request, not the service. */
  readonly timeouts?: DatabaseTimeouts;
}

export interface DatabaseTimeouts {
  readonly statementMs: number;
  readonly lockMs: number;
  readonly idleInTransactionMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = Object.freeze({ statementMs: 10_000, lockMs: 3_000, idleInTransactionMs: 15_000 });

/**
 * postgres.js waits `(0.5..1) × min(3^n / 100, 20)` seconds before reconnecting after the n-th
 * failed connection in a row, shared by the whole pool: after a burst of terminated backends
 * (a failover, a restart) it waited up to 20 s with the database already back. Ours grows from
 * 50 ms to at most 1 s, jittered.
 */
export function reconnectDelaySeconds(failures: number): number {
  return Math.min(0.05 * 2 ** Math.min(failures, 10), 1) * (0.5 + Math.random() / 2);
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

/** True when the error is PostgreSQL's unique_violation, optionally on one constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pgError = findPostgresError(error);
  return pgError?.code === '23505' && (constraint === undefined || pgError.constraint_name === constraint);
}

/** True for serialization failures and deadlocks: the transaction may simply be retried. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = findPostgresError(error)?.code;
  return code === '40001' || code === '40P01';
}

/** The PostgreSQL error behind an error (drizzle wraps the driver's in `cause`), if any. */
export function findPostgresError(error: unknown): postgres.PostgresError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (current instanceof postgres.PostgresError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * True when the database could not be reached or dropped the connection, or a bounded wait ran
 * out. Clients see SERVICE_UNAVAILABLE and may send the same request again: a failed statement
 * committed nothing, and where a COMMIT was lost in flight, every money movement is idempotent
 * by its key, so the retry cannot apply it twice.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Client-side connection failures (postgres.js, Node) and server-side ones (SQLSTATE). */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown: pg_terminate_backend, a fast shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout
]);

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
