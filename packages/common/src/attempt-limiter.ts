// Limits failed attempts (wrong gift-card codes, wrong passwords) per subject in a fixed time
// window, with the counters in PostgreSQL so every replica shares them. Before an attempt,
// `check` refuses a subject whose failures reached the limit; after a failed attempt,
// `recordFailure` counts it with one atomic upsert and says whether that one went over, so
// concurrent failures are answered RATE_LIMITED once the limit is passed. Only failures
// count: a burst of legitimate users behind one address is never refused. For a subject whose
// attempts come one at a time when honest (a username), `reserve` takes the attempt before it
// is made, so a burst of guesses cannot all be checked before the first failure is counted.

import { type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import { RateLimitedError } from './errors.ts';

export interface AttemptLimit {
  /** Failed attempts allowed per window. */
  readonly max: number;
  readonly windowSeconds: number;
}

export interface AttemptSubject {
  /** What is limited, e.g. `user:<id>` or `address:<ip>`. */
  readonly key: string;
  readonly limit: AttemptLimit;
}

/** A subject whose key is given later: a placeholder of a prepared statement. */
export interface AttemptSubjectTemplate {
  readonly key: string | SQLWrapper;
  readonly limit: AttemptLimit;
}

/** Runs a statement on a connection or inside a transaction (drizzle's `db.execute` or `tx.execute`). */
export type Execute = (query: SQL) => Promise<readonly Record<string, unknown>[]>;

/** Old windows are deleted now and then, on about one recorded failure in this many. */
const PRUNE_EVERY = 100;

function windowStart(limit: AttemptLimit): SQL {
  return sql`to_timestamp(floor(extract(epoch from now()) / ${limit.windowSeconds}) * ${limit.windowSeconds})`;
}

function retryAfter(limit: AttemptLimit): SQL {
  return sql`greatest(1, ceil(extract(epoch from (${windowStart(limit)} + make_interval(secs => ${limit.windowSeconds}) - now()))))::int`;
}

/** `table` is a table with columns `subject`, `window_start`, `count` and primary key `(subject, window_start)`. */
export function createAttemptLimiter(table: readonly [schema: string, name: string]) {
  for (const part of table) if (!/^[a-z_][a-z0-9_]*$/.test(part)) throw new Error(`"${part}" is not a plain identifier`);
  const target = sql.raw(`"${table[0]}"."${table[1]}"`);

  /**
   * An SQL expression: the seconds to wait before the next attempt, 0 when no subject has used
   * up its failures in the current window. One expression for every subject, so the check is
   * one round trip and can ride along in another statement (gift-cards' card lookup).
   */
  function waitSeconds(subjects: readonly AttemptSubjectTemplate[]): SQL {
    if (subjects.length === 0) return sql`0`;
    const each = subjects.map(
      ({ key, limit }) =>
        sql`(select ${retryAfter(limit)} from ${target} where subject = ${key} and window_start = ${windowStart(limit)} and count >= ${limit.max})`,
    );
    return sql`coalesce(greatest(${sql.join(each, sql`, `)}), 0)`;
  }

  return {
    waitSeconds,

    /** Refuses with RATE_LIMITED when any subject has used up its failures in the current window. */
    async check(execute: Execute, subjects: readonly AttemptSubject[]): Promise<void> {
      if (subjects.length === 0) return;
      const [row] = await execute(sql`select ${waitSeconds(subjects)} as retry_after`);
      const wait = Number(row?.retry_after ?? 0);
      if (wait > 0) throw new RateLimitedError(wait);
    },

    /**
     * Takes one attempt of `subject` before the attempt is made, with one atomic upsert, and
     * refuses with RATE_LIMITED when that goes past the limit. Attempts that arrive together
     * each take one, so no more than the limit are ever checked in a window, a right guess
     * among them included (with only `check` before and `recordFailure` after, a burst all
     * passed the check before any failure was counted, and every guess in it was checked). A
     * failed attempt keeps what it took; a successful one gives it back (`release`), since
     * only failures count.
     */
    async reserve(execute: Execute, subject: AttemptSubject): Promise<{ release(): Promise<void> }> {
      const { key, limit } = subject;
      const [row] = await execute(sql`
        insert into ${target} (subject, window_start, count) values (${key}, ${windowStart(limit)}, 1)
        on conflict (subject, window_start) do update set count = ${target}.count + 1
        returning count, window_start, ${retryAfter(limit)} as retry_after`);
      if (Math.random() * PRUNE_EVERY < 1) await execute(sql`delete from ${target} where window_start < now() - interval '1 day'`);
      if (row && Number(row.count) > limit.max) throw new RateLimitedError(Number(row.retry_after));
      const taken = row?.window_start;
      return {
        async release() {
          // A row whose count goes back to 0 is deleted: successes leave no rows behind.
          // (A statement cannot both update and delete one row: the two parts match disjoint counts.)
          await execute(sql`
            with gone as (delete from ${target} where subject = ${key} and window_start = ${taken} and count <= 1 returning 1)
            update ${target} set count = count - 1 where subject = ${key} and window_start = ${taken} and count > 1 and not exists (select 1 from gone)`);
        },
      };
    },

    /** Counts a failed attempt for every subject; returns the error to answer with when this one went over a limit. */
    async recordFailure(execute: Execute, subjects: readonly AttemptSubject[]): Promise<RateLimitedError | null> {
      let wait = 0;
      for (const { key, limit } of subjects) {
        const [row] = await execute(sql`
          insert into ${target} (subject, window_start, count) values (${key}, ${windowStart(limit)}, 1)
          on conflict (subject, window_start) do update set count = ${target}.count + 1
          returning count, ${retryAfter(limit)} as retry_after`);
        if (row && Number(row.count) > limit.max) wait = Math.max(wait, Number(row.retry_after));
      }
      if (Math.random() * PRUNE_EVERY < 1) await execute(sql`delete from ${target} where window_start < now() - interval '1 day'`);
      return wait > 0 ? new RateLimitedError(wait) : null;
    },
  };
}

export type AttemptLimiter = ReturnType<typeof createAttemptLimiter>;
