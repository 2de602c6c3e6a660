// The gift-cards subgraph's tables. A redemption row is both the claim of one slot of a
// card and the outbox record of the wallet credit it owes: they commit together.

import { attemptCountersTable } from '@giftpay/common/attempt-counters';
import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, integer, pgSchema, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

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
    /**
     * With one slot shard, the count of redemptions, incremented by every claim. With more,
     * only what was counted before the card was split: the claims count in its shards, and
     * the live figure is this plus their `used` (see `liveRedemptionCount`).
     */
    redemptionCount: integer('redemption_count').notNull().default(0),
    /** K: the counter rows a claim of this card may take a slot from, chosen at issue (GIFT_CARD_SLOT_SHARDS). 1: the card's own row. */
    slotShards: integer('slot_shards').notNull().default(1),
    disabledAt: timestamp('disabled_at', { withTimezone: true, mode: 'date' }),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('gift_cards_value_positive', sql`${table.valueAmount} > 0`),
    check('gift_cards_usage_limit_positive', sql`${table.usageLimit} >= 1`),
    check('gift_cards_redemption_count_in_range', sql`${table.redemptionCount} between 0 and ${table.usageLimit}`),
    check('gift_cards_slot_shards_in_range', sql`${table.slotShards} between 1 and least(64, ${table.usageLimit})`),
  ],
);

/**
 * The slots of a card split over K counter rows (K = slot_shards > 1), so a promotion's
 * claims do not all queue on one row: each shard holds its share of the card's slots, and
 * the capacities add up to the card's usage_limit less its redemption_count (see
 * drizzle/0005_claim_slot_shards.sql).
 */
export const cardSlotShards = giftCardsSchema.table(
  'card_slot_shards',
  {
    cardId: uuid('card_id')
      .notNull()
      .references(() => giftCards.id),
    shard: integer('shard').notNull(),
    capacity: integer('capacity').notNull(),
    used: integer('used').notNull().default(0),
  },
  (table) => [
    primaryKey({ name: 'card_slot_shards_pkey', columns: [table.cardId, table.shard] }),
    check('card_slot_shards_used_in_range', sql`${table.used} between 0 and ${table.capacity}`),
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

/**
 * The audit log of what admins did to cards: issued, disabled, enabled; who, when and why.
 * Written in the transaction of the change itself, append-only (triggers in
 * drizzle/0006_card_events.sql). One row per card, so a card's history is one index scan.
 */
export const cardEvents = giftCardsSchema.table(
  'card_events',
  {
    seq: bigserial('seq', { mode: 'bigint' }).primaryKey(),
    giftCardId: uuid('gift_card_id')
      .notNull()
      .references(() => giftCards.id),
    action: text('action', { enum: ['ISSUED', 'DISABLED', 'ENABLED'] }).notNull(),
    /** The admin's user id; null only for a disable made before this log existed (0006 backfilled it). */
    actorId: text('actor_id'),
    reason: text('reason'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    index('card_events_card_seq_idx').on(table.giftCardId, table.seq),
    check('card_events_action_known', sql`${table.action} in ('ISSUED', 'DISABLED', 'ENABLED')`),
  ],
);

export type GiftCardRow = typeof giftCards.$inferSelect;
export type RedemptionRow = typeof redemptions.$inferSelect;
export type CardEventRow = typeof cardEvents.$inferSelect;

/** Failed attempts per subject and time window, shared by every replica (see attempt-limiter.ts). */
export const attemptCounters = attemptCountersTable(giftCardsSchema);
