// Database access shared by the subgraphs: a postgres.js pool wrapped by drizzle, and
// migrations applied at start over one connection, under an advisory lock so replicas
// starting together never run them twice.

import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres, { type Sql } from 'postgres';

export interface DatabaseOptions {
  readonly applicationName: string;
  readonly maxConnections: number;
}

export interface Database<TSchema extends Record<string, unknown>> {
  readonly db: PostgresJsDatabase<TSchema>;
  readonly sql: Sql;
  close(): Promise<void>;
}

export function connectDatabase<TSchema extends Record<string, unknown>>(url: string, schema: TSchema, options: DatabaseOptions): Database<TSchema> {
  const sql = postgres(url, {
    max: options.maxConnections,
    idle_timeout: 30,
    connect_timeout: 10,
    connection: { application_name: options.applicationName },
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

function findPostgresError(error: unknown): postgres.PostgresError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (current instanceof postgres.PostgresError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
