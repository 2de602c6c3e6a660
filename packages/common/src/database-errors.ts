// What every service needs to know about PostgreSQL without loading the driver or drizzle:
// the bounded waits, the reconnect back-off, and how to recognise the database's errors
// (a unique violation, a retryable transaction, the database out of reach). The gateway
// uses these through the errors it formats; the pool itself is in db.ts.

import type postgres from 'postgres';

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

/**
 * The PostgreSQL error behind an error (drizzle wraps the driver's in `cause`), if any: the
 * driver's PostgresError, known by its name and SQLSTATE code (so the driver need not be loaded).
 */
export function findPostgresError(error: unknown): postgres.PostgresError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (current instanceof Error && current.name === 'PostgresError' && typeof (current as { code?: unknown }).code === 'string')
      return current as postgres.PostgresError;
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

/**
 * A failure a client meets with SERVICE_UNAVAILABLE and may send again: the database out of
 * reach (`isDatabaseUnavailable`), or a deadlock or serialization failure still there after
 * the service's own retries (`isRetryableTransactionError`): its transaction rolled back and
 * wrote nothing.
 */
export function isTransientDatabaseFailure(error: unknown): boolean {
  return isDatabaseUnavailable(error) || isRetryableTransactionError(error);
}

/** The statement waited too long, for a row lock held elsewhere (55P03) or its own run (57014): one statement's wait, not the database out of reach, though `isDatabaseUnavailable` answers both alike. */
export function isWaitTimeout(error: unknown): boolean {
  const code = findPostgresError(error)?.code;
  return code === LOCK_TIMEOUT || code === STATEMENT_TIMEOUT;
}

const STATEMENT_TIMEOUT = '57014';
const LOCK_TIMEOUT = '55P03';

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
  STATEMENT_TIMEOUT, // query_canceled: statement_timeout
  LOCK_TIMEOUT, // lock_not_available: lock_timeout
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout
]);
