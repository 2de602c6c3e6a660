// The accounts subgraph's tables, in their own PostgreSQL schema.

import { attemptCountersTable } from '@giftpay/common/attempt-counters';
import { sql } from 'drizzle-orm';
import { pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const accountsSchema = pgSchema('accounts');

export const users = accountsSchema.table('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** As the user typed it at sign-up. */
  username: text('username').notNull(),
  /** Lower-cased: usernames are unique without regard to case. */
  usernameKey: text('username_key').notNull().unique('users_username_key_unique'),
  /** PHC string (argon2id with its own salt and parameters). */
  passwordHash: text('password_hash').notNull(),
  roles: text('roles').array().notNull().default(sql`'{user}'::text[]`),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export type UserRow = typeof users.$inferSelect;

/** Failed attempts per subject and time window, shared by every replica (see attempt-limiter.ts). */
export const attemptCounters = attemptCountersTable(accountsSchema);
