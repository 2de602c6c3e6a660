// The wallet subgraph's tables: wallets with a stored balance, the append-only ledger that
// explains every change of it, and the idempotency keys that make retries safe.

import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const walletSchema = pgSchema('wallet');

export const wallets = walletSchema.table(
  'wallets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** The accounts subgraph's user id: one wallet per user. */
    ownerId: text('owner_id').notNull().unique('wallets_owner_id_unique'),
    currencyCode: text('currency_code').notNull(),
    /** Minor units. Always the sum of the wallet's ledger entries. */
    balance: bigint('balance', { mode: 'bigint' }).notNull().default(sql`0`),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [check('wallets_balance_not_negative', sql`${table.balance} >= 0`)],
);

export const ledgerEntries = walletSchema.table(
  'ledger_entries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Insertion order. Entries of one wallet are written under its row lock, so within a wallet this is commit order: pages and `balanceAfter` chains follow it. */
    seq: bigserial('seq', { mode: 'bigint' }).notNull().unique('ledger_entries_seq_unique'),
    walletId: uuid('wallet_id')
      .notNull()
      .references(() => wallets.id),
    kind: text('kind', { enum: ['CREDIT', 'DEBIT'] }).notNull(),
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    balanceAfter: bigint('balance_after', { mode: 'bigint' }).notNull(),
    currencyCode: text('currency_code').notNull(),
    description: text('description').notNull(),
    /** What caused it: credit (a service: a gift card's redemption), spend, transfer or adjustment (an admin). */
    operation: text('operation', { enum: ['credit', 'spend', 'transfer', 'adjustment'] }).notNull(),
    idempotencyKey: text('idempotency_key'),
    counterpartyWalletId: uuid('counterparty_wallet_id').references(() => wallets.id),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('ledger_entries_amount_positive', sql`${table.amount} > 0`),
    check('ledger_entries_balance_after_not_negative', sql`${table.balanceAfter} >= 0`),
    index('ledger_entries_wallet_seq_idx').on(table.walletId, table.seq.desc()),
  ],
);

/**
 * The other side of every entry that moves money into or out of the users' wallets together
 * (double entry): a credit from a gift card is taken from GIFT_CARDS, a spend goes to
 * SPENDING, an adjustment comes from or goes to ADJUSTMENTS. A transfer needs none: its two
 * wallet entries are each other's other side. `amount` is signed from the account's side
 * (the wallet entry's amount with the opposite sign), so per currency the wallets' balances
 * and these sum to zero. The system accounts keep no balance row of their own, which every
 * credit would have to lock: an account's balance is the sum of its entries. One entry per
 * wallet entry (its key), appended in the same statement, never changed.
 */
export const systemEntries = walletSchema.table(
  'system_entries',
  {
    walletEntryId: uuid('wallet_entry_id')
      .primaryKey()
      .references(() => ledgerEntries.id),
    account: text('account', { enum: ['GIFT_CARDS', 'SPENDING', 'ADJUSTMENTS'] }).notNull(),
    currencyCode: text('currency_code').notNull(),
    amount: bigint('amount', { mode: 'bigint' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('system_entries_amount_not_zero', sql`${table.amount} <> 0`),
    check('system_entries_account_known', sql`${table.account} in ('GIFT_CARDS', 'SPENDING', 'ADJUSTMENTS')`),
  ],
);

/**
 * Who made each adjustment (adjustWallet): the admin's user id beside the wallet entry, written
 * in the same statement as the entry, append-only (drizzle/0004_adjustments_audit.sql). The
 * reason is the entry's description; the time, its created_at. `seq` orders the log.
 */
export const adjustments = walletSchema.table('adjustments', {
  walletEntryId: uuid('wallet_entry_id')
    .primaryKey()
    .references(() => ledgerEntries.id),
  seq: bigserial('seq', { mode: 'bigint' }).notNull().unique('adjustments_seq_unique'),
  /** The admin's user id; null only for an adjustment made before this log existed. */
  actorId: text('actor_id'),
});

export const idempotencyKeys = walletSchema.table(
  'idempotency_keys',
  {
    /** Whose key it is: keys of different owners never collide. */
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    /** Fingerprint of the request the key was first used with. */
    requestHash: text('request_hash').notNull(),
    /** The ledger entry the first request produced (the caller's side). */
    entryId: uuid('entry_id').references(() => ledgerEntries.id),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ name: 'idempotency_keys_pkey', columns: [table.scope, table.key] })],
);

export type WalletRow = typeof wallets.$inferSelect;
export type LedgerEntryRow = typeof ledgerEntries.$inferSelect;
export type AdjustmentRow = typeof adjustments.$inferSelect;
