// The gift-cards subgraph's tables. A redemption row is both the claim of one slot of a
// card and the outbox record of the wallet credit it owes: they commit together.

import { attemptCountersTable } from '@giftpay/common/attempt-counters';
import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, integer, pgSchema, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

export const giftCardsSchema = pgSchema('gift_cards');

export const giftCards = giftCardsSchema.table(
  'gift_cards',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Issue order: pages are newest first by it. */
    seq: bigserial('seq', { mode: 'bigint' }).notNull().unique('gift_cards_seq_unique'),
    /** HMAC-SHA-256 of the normalized code under GIFT_CARD_CODE_KEY; the code itself is never stored. */
    codeHash: text('code_hash').notNull().unique('gift_cards_code_hash_unique'),
    last4: text('last4').notNull(),
    valueAmount: bigint('value_amount', { mode: 'bigint' }).notNull(),
    currencyCode: text('currency_code').notNull(),
    usageLimit: integer('usage_limit').notNull(),
    redemptionCount: integer('redemption_count').notNull().default(0),
    disabledAt: timestamp('disabled_at', { withTimezone: true, mode: 'date' }),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('gift_cards_value_positive', sql`${table.valueAmount} > 0`),
    check('gift_cards_usage_limit_positive', sql`${table.usageLimit} >= 1`),
    check('gift_cards_redemption_count_in_range', sql`${table.redemptionCount} between 0 and ${table.usageLimit}`),
  ],
);

export const redemptions = giftCardsSchema.table(
  'redemptions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    seq: bigserial('seq', { mode: 'bigint' }).notNull().unique('redemptions_seq_unique'),
    giftCardId: uuid('gift_card_id')
      .notNull()
      .references(() => giftCards.id),
    userId: text('user_id').notNull(),
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    currencyCode: text('currency_code').notNull(),
    status: text('status', { enum: ['PENDING', 'CREDITED'] }).notNull(),
    walletTransactionId: text('wallet_transaction_id'),
    /** Outbox bookkeeping: deliveries tried, when the next may start, and why the last failed. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastError: text('last_error'),
    /** Set when the wallet refused the credit for good (a currency or balance rule): the relay leaves it to an operator. */
    parkedAt: timestamp('parked_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    creditedAt: timestamp('credited_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    unique('redemptions_one_per_user').on(table.giftCardId, table.userId),
    index('redemptions_user_seq_idx').on(table.userId, table.seq.desc()),
    index('redemptions_pending_due_idx').on(table.nextAttemptAt).where(sql`${table.status} = 'PENDING' and ${table.parkedAt} is null`),
  ],
);

export type GiftCardRow = typeof giftCards.$inferSelect;
export type RedemptionRow = typeof redemptions.$inferSelect;

/** Failed attempts per subject and time window, shared by every replica (see attempt-limiter.ts). */
export const attemptCounters = attemptCountersTable(giftCardsSchema);
