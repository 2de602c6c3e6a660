// The table behind attempt-limiter.ts, one per subgraph schema that limits failed attempts.
// Kept apart from the rest of the package so drizzle-kit can load it without the servers' code.

import { integer, type PgSchema, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** Failed attempts per subject and time window, shared by every replica. */
export function attemptCountersTable<TSchema extends string>(schema: PgSchema<TSchema>) {
  return schema.table(
    'attempt_counters',
    {
      subject: text('subject').notNull(),
      windowStart: timestamp('window_start', { withTimezone: true, mode: 'date' }).notNull(),
      count: integer('count').notNull(),
    },
    (table) => [primaryKey({ name: 'attempt_counters_pkey', columns: [table.subject, table.windowStart] })],
  );
}
