// The ledger: every change of a balance is one conditional UPDATE of the wallet row (so the
// row lock orders writers and the balance can never go below zero) plus one appended entry,
// in the same transaction as the idempotency key that makes the request safe to retry.

import {
  BadUserInputError,
  type Counter,
  CurrencyMismatchError,
  findPostgresError,
  type Histogram,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  isDatabaseUnavailable,
  isRetryableTransactionError,
  isWaitTimeout,
  MAX_BALANCE_MINOR,
  type Money,
  RecipientNotFoundError,
} from '@giftpay/common';
import { createBatcher } from '@giftpay/common/batching';
import { and, desc, eq, gte, lt, lte, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type * as schema from './db/schema.ts';
import { type AdjustmentRow, adjustments, idempotencyKeys, type LedgerEntryRow, ledgerEntries, type WalletRow, wallets } from './db/schema.ts';
import { checkDescription, checkIdempotencyKey, type Operation, requestFingerprint, type TransactionKind } from './domain/ledger.ts';
import { LEDGER_REPORT_SQL, type LedgerReport, type LedgerReportRow, ledgerReportOf } from './ledger-report.ts';

type Db = PostgresJsDatabase<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface PostedTransaction {
  /** The entry on the caller's wallet (for a transfer, the debit). */
  readonly entry: LedgerEntryRow;
  readonly wallet: WalletRow;
  /** True when an earlier request with the same key already did this. */
  readonly replayed: boolean;
}

export interface LedgerDeps {
  readonly db: Db;
  readonly defaultCurrency: string;
  /** Resolves a username to a user id through the accounts service, or null. */
  readonly findUserIdByUsername: (username: string) => Promise<string | null>;
  /** What the batches of spends and credits did (docs/operations.md). */
  readonly metrics?: {
    /** Entries posted together in one statement, by operation (`spend`, `credit`). */
    readonly batchSize?: Histogram<'operation'>;
    /** Entries of a batch posted again alone, and why: `refused` (one entry refused), `timeout` (a lock or statement timeout), `failed` (anything else). */
    readonly postedAlone?: Counter<'reason'>;
  };
}

const MAX_TRANSACTION_ATTEMPTS = 5;

/**
 * Reads of concurrent requests leave together (natural batching, @giftpay/common/batching):
 * a read that finds nothing on its way leaves at once, alone; under load, the wallets asked for
 * meanwhile leave as one statement, and so do the pages of entries. PostgreSQL spends about
 * as much on a statement's round trip as on these reads themselves (docs/performance.md).
 */
const READ_BATCHES = { maxBatchSize: 100, maxInFlight: 2 } as const;

/**
 * Spends of concurrent requests are posted together the same way: one statement, one
 * transaction and one commit for the batch (`postMany`). At the database alone, 4,000 spends
 * over a pool of 10 cost PostgreSQL 0.28-0.35 ms of CPU each one by one, 0.17-0.21 ms in
 * batches of 10 to 40 (docs/performance.md). As many as the credits gift-cards sends in one.
 */
const SPEND_BATCHES = { maxBatchSize: 50, maxInFlight: 2 } as const;

/** One page of a wallet's entries: `limit` rows, newest first, older than `beforeSeq` when given. */
interface PageRead {
  readonly walletId: string;
  readonly limit: number;
  readonly beforeSeq: bigint | null;
}

/** The idempotency scope of adjustments: one space for every admin, so a retry by a colleague replays too. */
export const ADJUSTMENT_SCOPE = 'adjustment';

/** The SQLSTATE wallet.post_entry raises a refusal with (its message says which), undoing the statement. */
const POST_ENTRY_REFUSED = 'P0001';

/** One entry for `wallet.post_entry`, its input checked. */
interface EntryInput {
  readonly scope: string;
  readonly key: string;
  readonly requestHash: string;
  readonly ownerId: string;
  readonly kind: TransactionKind;
  readonly amount: Money;
  readonly description: string;
  readonly operation: Operation;
}

/** Code-unit order, the same on every replica (not the locale's). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Where a batch in the order of its owners splits in two with no owner on both sides, nearest
 * its middle; 0 when all its entries are one owner's.
 */
function ownerBoundaryNearMiddle(order: readonly { readonly entry: { readonly ownerId: string } }[]): number {
  const middle = Math.ceil(order.length / 2);
  for (let distance = 0; distance < order.length; distance += 1) {
    for (const at of [middle - distance, middle + distance]) {
      if (at > 0 && at < order.length && order[at - 1]?.entry.ownerId !== order[at]?.entry.ownerId) return at;
    }
  }
  return 0;
}

/** The columns of an entry, as `wallet.post_entry` and the page reads name them, int8 as text (exact). */
interface EntryColumns extends Record<string, unknown> {
  entry_id: string;
  entry_seq: string;
  entry_wallet_id: string;
  entry_kind: TransactionKind;
  entry_amount: string;
  entry_balance_after: string;
  entry_currency_code: string;
  entry_description: string;
  entry_operation: Operation;
  entry_idempotency_key: string | null;
  entry_counterparty_wallet_id: string | null;
  entry_created_at: string | Date;
}

/** The columns of a wallet, as `wallet.post_entry` and the batched wallet reads name them, int8 as text. */
interface WalletColumns extends Record<string, unknown> {
  wallet_id: string;
  wallet_owner_id: string;
  wallet_currency_code: string;
  wallet_balance: string;
  wallet_created_at: string | Date;
  wallet_updated_at: string | Date;
}

/** A row of wallet.post_entry: the entry and the wallet. */
interface PostEntryRow extends EntryColumns, WalletColumns {
  outcome: 'POSTED' | 'REPLAYED' | 'KEY_REUSED';
}

function entryOf(row: EntryColumns): LedgerEntryRow {
  return {
    id: row.entry_id,
    seq: BigInt(row.entry_seq),
    walletId: row.entry_wallet_id,
    kind: row.entry_kind,
    amount: BigInt(row.entry_amount),
    balanceAfter: BigInt(row.entry_balance_after),
    currencyCode: row.entry_currency_code,
    description: row.entry_description,
    operation: row.entry_operation,
    idempotencyKey: row.entry_idempotency_key,
    counterpartyWalletId: row.entry_counterparty_wallet_id,
    createdAt: new Date(row.entry_created_at),
  };
}

function walletOf(row: WalletColumns): WalletRow {
  return {
    id: row.wallet_id,
    ownerId: row.wallet_owner_id,
    currencyCode: row.wallet_currency_code,
    balance: BigInt(row.wallet_balance),
    createdAt: new Date(row.wallet_created_at),
    updatedAt: new Date(row.wallet_updated_at),
  };
}

/** A credit another service asks for (a gift card's redemption), under its idempotency key in `scope`. */
export interface CreditInput {
  readonly ownerId: string;
  readonly amount: Money;
  readonly description: string;
  readonly idempotencyKey: string;
  readonly scope: string;
}

export function createLedger(deps: LedgerDeps) {
  const { db, defaultCurrency } = deps;

  /** Runs `work` again on the rare deadlock or serialization failure (with jitter), up to 5 attempts; one past them is answered SERVICE_UNAVAILABLE. */
  async function withRetries<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await work();
      } catch (error) {
        if (attempt >= MAX_TRANSACTION_ATTEMPTS || !isRetryableTransactionError(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  /** Runs `work` in a transaction, retried as `withRetries` says. */
  function inTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return withRetries(() => db.transaction(work));
  }

  /** The read behind every wallet a request shows (the balance after an activation among them), prepared once. */
  const walletByOwner = db
    .select()
    .from(wallets)
    .where(eq(wallets.ownerId, sql.placeholder('ownerId')))
    .limit(1)
    .prepare('wallet_by_owner');

  /**
   * The wallets of the owners of one batch, in one statement; null for an owner who has none
   * yet. A batch's rows come back as PostgreSQL sends them, decoded here (`walletOf`) rather
   * than through drizzle's column mapping, which took an eighth of the wallet's CPU on a read.
   */
  const walletReads = createBatcher<string, WalletRow | null>(async (owners) => {
    const rows =
      owners.length === 1
        ? await walletByOwner.execute({ ownerId: owners[0] })
        : (
            await db.execute<WalletColumns>(sql`
              select w.id as wallet_id, w.owner_id as wallet_owner_id, w.currency_code as wallet_currency_code,
                w.balance::text as wallet_balance, w.created_at as wallet_created_at, w.updated_at as wallet_updated_at
              from wallet.wallets w where w.owner_id = any(${sql.param([...new Set(owners)])}::text[])`)
          ).map(walletOf);
    const byOwner = new Map(rows.map((row) => [row.ownerId, row]));
    return owners.map((owner) => byOwner.get(owner) ?? null);
  }, READ_BATCHES);

  /**
   * The pages of one batch: one statement for each page size in it (nearly always one), each
   * page through the (wallet_id, seq desc) index, its rows decoded here (`entryOf`).
   */
  const pageReads = createBatcher<PageRead, LedgerEntryRow[]>(async (reads) => {
    const pages: LedgerEntryRow[][] = reads.map(() => []);
    const bySize = new Map<number, number[]>();
    for (const [index, read] of reads.entries()) {
      const indexes = bySize.get(read.limit);
      if (indexes) indexes.push(index);
      else bySize.set(read.limit, [index]);
    }
    for (const [limit, indexes] of bySize) {
      const walletIds = indexes.map((index) => (reads[index] as PageRead).walletId);
      const beforeSeqs = indexes.map((index) => (reads[index] as PageRead).beforeSeq?.toString() ?? null);
      const rows = await db.execute<EntryColumns & { i: string }>(sql`
        select k.i, e.id as entry_id, e.seq::text as entry_seq, e.wallet_id as entry_wallet_id, e.kind as entry_kind,
          e.amount::text as entry_amount, e.balance_after::text as entry_balance_after, e.currency_code as entry_currency_code,
          e.description as entry_description, e.operation as entry_operation, e.idempotency_key as entry_idempotency_key,
          e.counterparty_wallet_id as entry_counterparty_wallet_id, e.created_at as entry_created_at
        from unnest(${sql.param(walletIds)}::uuid[], ${sql.param(beforeSeqs)}::bigint[]) with ordinality as k(wallet_id, before_seq, i)
        cross join lateral (
          select * from wallet.ledger_entries l
          where l.wallet_id = k.wallet_id and (k.before_seq is null or l.seq < k.before_seq)
          order by l.seq desc limit ${limit}
        ) e
        order by k.i, e.seq desc`);
      for (const row of rows) pages[indexes[Number(row.i) - 1] as number]?.push(entryOf(row));
    }
    return pages;
  }, READ_BATCHES);

  /** An owner's wallet, created empty when the owner has none yet; read in a batch with other reads. */
  async function ensureWallet(ownerId: string): Promise<WalletRow> {
    const existing = await walletReads.load(ownerId);
    if (existing) return existing;
    await db.insert(wallets).values({ ownerId, currencyCode: defaultCurrency }).onConflictDoNothing({ target: wallets.ownerId });
    const created = await db.query.wallets.findFirst({ where: eq(wallets.ownerId, ownerId) });
    if (!created) throw new Error(`wallet of ${ownerId} could not be created`);
    return created;
  }

  /** An owner's wallet row, locked for the transaction (created first when the owner has none), as post_entry takes it. */
  async function lockWallet(tx: Tx, ownerId: string): Promise<WalletRow> {
    const locked = () => tx.select().from(wallets).where(eq(wallets.ownerId, ownerId)).limit(1).for('no key update');
    const [existing] = await locked();
    if (existing) return existing;
    await tx.insert(wallets).values({ ownerId, currencyCode: defaultCurrency }).onConflictDoNothing({ target: wallets.ownerId });
    const [created] = await locked();
    if (!created) throw new Error(`wallet of ${ownerId} could not be created`);
    return created;
  }

  /**
   * Claims the key for this request. Returns null when the key is new (the caller goes on),
   * or the entry the first request produced. A concurrent transfer with the same key has
   * queued for the sender's row already (locked first), so the first one's key is committed or
   * rolled back by the time it gets here.
   */
  async function claimIdempotencyKey(tx: Tx, scope: string, key: string, requestHash: string): Promise<LedgerEntryRow | null> {
    const claimed = await tx.insert(idempotencyKeys).values({ scope, key, requestHash }).onConflictDoNothing().returning({ key: idempotencyKeys.key });
    if (claimed.length > 0) return null;
    const [existing] = await tx
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
    if (!existing || existing.requestHash !== requestHash) throw new IdempotencyKeyReusedError();
    if (!existing.entryId) throw new Error(`idempotency key ${scope}/${key} has no result`);
    const entry = await tx.query.ledgerEntries.findFirst({ where: eq(ledgerEntries.id, existing.entryId) });
    if (!entry) throw new Error(`ledger entry ${existing.entryId} is missing`);
    return entry;
  }

  async function recordResult(tx: Tx, scope: string, key: string, entryId: string): Promise<void> {
    await tx
      .update(idempotencyKeys)
      .set({ entryId })
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
  }

  async function applyEntry(
    tx: Tx,
    wallet: WalletRow,
    entry: { kind: TransactionKind; amount: bigint; description: string; operation: Operation; idempotencyKey: string; counterpartyWalletId?: string },
  ): Promise<{ entry: LedgerEntryRow; wallet: WalletRow }> {
    const [updated] =
      entry.kind === 'CREDIT'
        ? await tx
            .update(wallets)
            .set({ balance: sql`${wallets.balance} + ${entry.amount}`, updatedAt: sql`now()` })
            .where(and(eq(wallets.id, wallet.id), lte(wallets.balance, MAX_BALANCE_MINOR - entry.amount)))
            .returning()
        : await tx
            .update(wallets)
            .set({ balance: sql`${wallets.balance} - ${entry.amount}`, updatedAt: sql`now()` })
            .where(and(eq(wallets.id, wallet.id), gte(wallets.balance, entry.amount)))
            .returning();
    if (!updated && entry.kind === 'CREDIT') {
      throw new BadUserInputError(`This would take the wallet past the largest balance it may hold (${MAX_BALANCE_MINOR} minor units).`);
    }
    if (!updated) throw new InsufficientFundsError();
    const [inserted] = await tx
      .insert(ledgerEntries)
      .values({
        walletId: wallet.id,
        kind: entry.kind,
        amount: entry.amount,
        balanceAfter: updated.balance,
        currencyCode: updated.currencyCode,
        description: entry.description,
        operation: entry.operation,
        idempotencyKey: entry.idempotencyKey,
        counterpartyWalletId: entry.counterpartyWalletId ?? null,
      })
      .returning();
    if (!inserted) throw new Error('ledger insert returned no row');
    return { entry: inserted, wallet: updated };
  }

  function checkCurrency(wallet: WalletRow, amount: Money): void {
    if (wallet.currencyCode !== amount.currencyCode) throw new CurrencyMismatchError(wallet.currencyCode, amount.currencyCode);
  }

  async function replay(tx: Tx, entry: LedgerEntryRow): Promise<PostedTransaction> {
    const wallet = await tx.query.wallets.findFirst({ where: eq(wallets.id, entry.walletId) });
    if (!wallet) throw new Error(`wallet ${entry.walletId} is missing`);
    return { entry, wallet, replayed: true };
  }

  /**
   * A credit or a spend in one statement, `wallet.post_entry` (drizzle/0002_post_entry.sql,
   * as 0005 left it): the wallet's row locked (created when missing), then the key, the
   * conditional update, the entry and the key's result in the statement's own transaction,
   * with no round trip while the wallet's row is locked. It was
   * seven statements in a transaction, each a round trip; a promotion's winners each wait on one.
   */
  async function postEntry(
    input: EntryInput & {
      /** For an adjustment: the admin, recorded in wallet.adjustments by the same statement when the entry is posted (not on a replay). */
      adjustedBy?: string;
    },
  ): Promise<PostedTransaction> {
    const call = sql`wallet.post_entry(${input.scope}, ${input.key}, ${input.requestHash}, ${input.ownerId}, ${defaultCurrency}, ${input.kind}, ${input.amount.minor}, ${input.amount.currencyCode}, ${input.description}, ${input.operation}, ${MAX_BALANCE_MINOR})`;
    const statement =
      input.adjustedBy === undefined
        ? sql`select * from ${call}`
        : sql`with posted as (select * from ${call}),
            audit as (insert into wallet.adjustments (wallet_entry_id, actor_id) select entry_id, ${input.adjustedBy} from posted where outcome = 'POSTED')
            select * from posted`;
    let row: PostEntryRow | undefined;
    try {
      [row] = await withRetries(() => db.execute<PostEntryRow>(statement));
    } catch (error) {
      const refusal = findPostgresError(error);
      if (refusal?.code === POST_ENTRY_REFUSED) {
        if (refusal.message.startsWith('CURRENCY_MISMATCH:'))
          throw new CurrencyMismatchError(refusal.message.slice('CURRENCY_MISMATCH:'.length), input.amount.currencyCode);
        if (refusal.message === 'MAX_BALANCE')
          throw new BadUserInputError(`This would take the wallet past the largest balance it may hold (${MAX_BALANCE_MINOR} minor units).`);
        if (refusal.message === 'INSUFFICIENT_FUNDS') throw new InsufficientFundsError();
      }
      throw error;
    }
    if (!row) throw new Error('wallet.post_entry returned no row');
    if (row.outcome === 'KEY_REUSED') throw new IdempotencyKeyReusedError();
    return { entry: entryOf(row), wallet: walletOf(row), replayed: row.outcome === 'REPLAYED' };
  }

  /**
   * Several entries in one statement: `wallet.post_entry` once per entry, in one transaction
   * and one commit (one round trip and one flush serve them all). They are posted in the order
   * of their owners, and one owner's in the order given, so two batches lock the wallets they
   * share in the same order. Each result is its entry's own, exactly as `postEntry` would
   * answer it: a key given twice in one batch is posted once and replayed once, as one after
   * the other. When the statement fails as a whole it committed nothing: one entry refused
   * (say for want of funds), its halves go again as batches until the refused entry is alone;
   * a lock or statement timeout, or a deadlock past its retries, and each entry is posted on
   * its own.
   * Each entry takes its wallet's row before its key (`post_entry`, migration 0005), so two
   * batches, or a batch and a single entry, that share a wallet or a key queue for the row in
   * turn and never wait for each other.
   */
  async function postMany(entries: readonly EntryInput[]): Promise<(PostedTransaction | Error)[]> {
    const alone = (entry: EntryInput) => postEntry(entry).catch((error: unknown) => error as Error);
    if (entries.length <= 1) return Promise.all(entries.map(alone));
    deps.metrics?.batchSize?.observe({ operation: entries[0]?.operation ?? 'unknown' }, entries.length);
    const order = entries.map((entry, ord) => ({ entry, ord })).sort((a, b) => compareText(a.entry.ownerId, b.entry.ownerId) || a.ord - b.ord);
    const batch = JSON.stringify(
      order.map(({ entry, ord }) => ({
        ord,
        scope: entry.scope,
        key: entry.key,
        hash: entry.requestHash,
        owner: entry.ownerId,
        kind: entry.kind,
        amount: entry.amount.minor.toString(),
        currency: entry.amount.currencyCode,
        description: entry.description,
        operation: entry.operation,
      })),
    );
    let rows: (PostEntryRow & { ord: number })[];
    try {
      rows = await withRetries(() =>
        db.execute<PostEntryRow & { ord: number }>(sql`
          select c.ord, p.*
          from jsonb_to_recordset(${batch}::jsonb) as c(ord int, scope text, key text, hash text, owner text, kind text, amount bigint, currency text, description text, operation text)
          cross join lateral wallet.post_entry(c.scope, c.key, c.hash, c.owner, ${defaultCurrency}, c.kind, c.amount, c.currency, c.description, c.operation, ${MAX_BALANCE_MINOR}) p`),
      );
    } catch (error) {
      // The database out of reach is the same for every entry: say so rather than try each.
      // A lock or statement timeout is not: one entry's wallet, held elsewhere, made the whole
      // batch wait; alone, only that entry waits again.
      if (isDatabaseUnavailable(error) && !isWaitTimeout(error)) return entries.map(() => error as Error);
      const refused = findPostgresError(error)?.code === POST_ENTRY_REFUSED;
      // One entry refused (a spend its wallet cannot pay, say) undid the statement: the two
      // halves go again as batches, so the refused entry is found in about 2·log2(n) statements
      // while the others stay batched, and a client whose spends keep being refused cannot
      // turn every batch it lands in into one statement a spend. The halves share no owner,
      // hence no wallet and no key, so they go at once without waiting for each other.
      const split = refused ? ownerBoundaryNearMiddle(order) : 0;
      if (split > 0) {
        const halves = [order.slice(0, split), order.slice(split)];
        const leftAlone = halves.filter((half) => half.length === 1).length;
        if (leftAlone > 0) deps.metrics?.postedAlone?.inc({ reason: 'refused' }, leftAlone);
        const answers = await Promise.all(halves.map((half) => postMany(half.map(({ entry }) => entry))));
        const results: (PostedTransaction | Error)[] = new Array(entries.length);
        halves.forEach((half, which) => {
          half.forEach(({ ord }, at) => {
            results[ord] = answers[which]?.[at] as PostedTransaction | Error;
          });
        });
        return results;
      }
      // A lock or statement timeout: alone, only the held wallet's entry waits again. One
      // owner's entries (no boundary to split at): alone too.
      const reason = isWaitTimeout(error) ? 'timeout' : refused ? 'refused' : 'failed';
      deps.metrics?.postedAlone?.inc({ reason }, entries.length);
      return Promise.all(entries.map(alone));
    }
    const results: (PostedTransaction | Error | undefined)[] = new Array(entries.length);
    for (const row of rows) {
      results[row.ord] =
        row.outcome === 'KEY_REUSED' ? new IdempotencyKeyReusedError() : { entry: entryOf(row), wallet: walletOf(row), replayed: row.outcome === 'REPLAYED' };
    }
    return Array.from(results, (result) => result ?? new Error('wallet.post_entry returned no row'));
  }

  const spends = createBatcher<EntryInput, PostedTransaction>(postMany, SPEND_BATCHES);
  /** The last spend underway in this process under each key (scope and key). */
  const spendsUnderway = new Map<string, Promise<PostedTransaction>>();

  /**
   * Posts a spend in the next batch; a spend whose key is already underway here (a client's
   * retry) waits for it to settle, then goes and replays it in a later batch: a key's posting
   * and its replay are a statement each, and the retry holds no place in the first's batch.
   * (Before `post_entry` took the wallet's row ahead of the key, this wait was also what kept
   * two batches in flight that held the same key from deadlocking.) Within one batch a key
   * sent twice is safe.
   */
  function postSpend(entry: EntryInput): Promise<PostedTransaction> {
    const id = `${entry.scope}\u0000${entry.key}`;
    const before = spendsUnderway.get(id);
    const load = () => spends.load(entry);
    const mine = before ? before.then(load, load) : load();
    spendsUnderway.set(id, mine);
    const forget = () => {
      if (spendsUnderway.get(id) === mine) spendsUnderway.delete(id);
    };
    mine.then(forget, forget);
    return mine;
  }

  /** A credit's statement parameters, checked: what `credit` and `creditMany` post. */
  function creditEntry(input: CreditInput): EntryInput {
    const description = checkDescription(input.description);
    const key = checkIdempotencyKey(input.idempotencyKey);
    const requestHash = requestFingerprint('credit', { ownerId: input.ownerId, amount: input.amount.minor, currency: input.amount.currencyCode, description });
    return { scope: input.scope, key, requestHash, ownerId: input.ownerId, kind: 'CREDIT', amount: input.amount, description, operation: 'credit' };
  }

  function credit(input: CreditInput): Promise<PostedTransaction> {
    return postEntry(creditEntry(input));
  }

  return {
    /** A username to a user id, through accounts (null: no such user). */
    findUserIdByUsername: deps.findUserIdByUsername,

    ensureWallet,

    findWalletById: (id: string) => (/^[0-9a-f-]{36}$/i.test(id) ? db.query.wallets.findFirst({ where: eq(wallets.id, id) }) : Promise.resolve(undefined)),

    /** Newest first, `first + 1` rows so the caller knows whether another page follows; in a batch with other reads. */
    listEntries(walletId: string, first: number, beforeSeq: bigint | null): Promise<LedgerEntryRow[]> {
      return pageReads.load({ walletId, limit: first + 1, beforeSeq });
    },

    /** Adds money to a user's wallet on behalf of another service (e.g. a gift-card redemption). */
    credit,

    /**
     * Several credits in one statement (`postMany`): a promotion's winners arrive together.
     * Each result is its credit's own, exactly as `credit` would answer it; a credit whose
     * input is refused before it reaches the database is answered with that refusal alone.
     */
    async creditMany(inputs: readonly CreditInput[]): Promise<(PostedTransaction | Error)[]> {
      const results: (PostedTransaction | Error)[] = new Array(inputs.length);
      const checked: { index: number; entry: EntryInput }[] = [];
      inputs.forEach((input, index) => {
        try {
          checked.push({ index, entry: creditEntry(input) });
        } catch (error) {
          results[index] = error as Error;
        }
      });
      const posted = await postMany(checked.map(({ entry }) => entry));
      checked.forEach(({ index }, at) => {
        results[index] = posted[at] as PostedTransaction | Error;
      });
      return results;
    },

    /** Debits the caller's wallet; refuses rather than overdraw. Concurrent spends are posted together (`postMany`). */
    spend(input: { ownerId: string; amount: Money; description: string; idempotencyKey: string }): Promise<PostedTransaction> {
      const description = checkDescription(input.description);
      const key = checkIdempotencyKey(input.idempotencyKey);
      const hash = requestFingerprint('spend', { amount: input.amount.minor, currency: input.amount.currencyCode, description });
      return postSpend({
        scope: `user:${input.ownerId}`,
        key,
        requestHash: hash,
        ownerId: input.ownerId,
        kind: 'DEBIT',
        amount: input.amount,
        description,
        operation: 'spend',
      });
    },

    /**
     * An admin's correction: a credit from, or a debit to, the adjustments account, with the
     * reason as the transaction's description. Idempotent like `spend` (one key space for all
     * admins); a debit never overdraws; the wallet is created for a credit when it has none.
     */
    adjust(input: {
      ownerId: string;
      kind: TransactionKind;
      amount: Money;
      reason: string;
      idempotencyKey: string;
      adjustedBy: string;
    }): Promise<PostedTransaction> {
      const reason = checkDescription(input.reason);
      const key = checkIdempotencyKey(input.idempotencyKey);
      const hash = requestFingerprint('adjustment', {
        ownerId: input.ownerId,
        kind: input.kind,
        amount: input.amount.minor,
        currency: input.amount.currencyCode,
        reason,
      });
      return postEntry({
        scope: ADJUSTMENT_SCOPE,
        key,
        requestHash: hash,
        ownerId: input.ownerId,
        kind: input.kind,
        amount: input.amount,
        description: reason,
        operation: 'adjustment',
        adjustedBy: input.adjustedBy,
      });
    },

    /** Who made an adjustment: null for any other entry, and for an adjustment made before the log existed. */
    async adjustedBy(entryId: string): Promise<string | null> {
      const [row] = await db.select({ actorId: adjustments.actorId }).from(adjustments).where(eq(adjustments.walletEntryId, entryId));
      return row?.actorId ?? null;
    },

    /** The log of adjustments, newest first, `first + 1` rows, each with its entry. */
    listAdjustments(first: number, beforeSeq: bigint | null): Promise<{ adjustment: AdjustmentRow; entry: LedgerEntryRow; ownerId: string }[]> {
      return db
        .select({ adjustment: adjustments, entry: ledgerEntries, ownerId: wallets.ownerId })
        .from(adjustments)
        .innerJoin(ledgerEntries, eq(ledgerEntries.id, adjustments.walletEntryId))
        .innerJoin(wallets, eq(wallets.id, ledgerEntries.walletId))
        .where(beforeSeq === null ? undefined : lt(adjustments.seq, beforeSeq))
        .orderBy(desc(adjustments.seq))
        .limit(first + 1);
    },

    async countAdjustments(): Promise<number> {
      const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(adjustments);
      return row?.count ?? 0;
    },

    /** The books, per currency, and whether they balance (a full read of the ledger: for admins and operators, not hot paths). */
    async report(): Promise<LedgerReport> {
      return ledgerReportOf(await db.execute<LedgerReportRow>(sql.raw(LEDGER_REPORT_SQL)));
    },

    /** Moves money between two wallets in one transaction: both entries or neither. */
    async transfer(input: { ownerId: string; senderUsername: string; toUsername: string; amount: Money; idempotencyKey: string }): Promise<PostedTransaction> {
      const key = checkIdempotencyKey(input.idempotencyKey);
      const recipientId = await deps.findUserIdByUsername(input.toUsername.trim());
      if (!recipientId) throw new RecipientNotFoundError(input.toUsername);
      if (recipientId === input.ownerId) throw new BadUserInputError('You cannot transfer money to yourself.');
      const hash = requestFingerprint('transfer', { to: recipientId, amount: input.amount.minor, currency: input.amount.currencyCode });
      return inTransaction(async (tx) => {
        const scope = `user:${input.ownerId}`;
        // Each owner's row locked (created first when new) before the next, in the order of
        // their owners, the order batches of spends and credits lock theirs in (postMany,
        // post_entry): two users paying each other at once, or a transfer beside a batch over
        // the same wallets, wait in turn and never wait for each other. (By wallet id, a
        // transfer took the second owner's row first while a batch held the first's; creating a
        // new recipient's wallet before locking the sender's, it held the new row, which a
        // batch holding the sender's then waited to create.)
        const [firstOwner, secondOwner] = [input.ownerId, recipientId].sort(compareText);
        const locked = new Map<string, WalletRow>();
        for (const owner of [firstOwner, secondOwner] as string[]) locked.set(owner, await lockWallet(tx, owner));
        const sender = locked.get(input.ownerId) as WalletRow;
        const recipient = locked.get(recipientId) as WalletRow;
        // Then the key, as post_entry claims its key after its wallet's row: a key in an
        // owner's scope is claimed only while that owner's row is held.
        const previous = await claimIdempotencyKey(tx, scope, key, hash);
        if (previous) return replay(tx, previous);
        checkCurrency(sender, input.amount);
        checkCurrency(recipient, input.amount);
        const debit = await applyEntry(tx, sender, {
          kind: 'DEBIT',
          amount: input.amount.minor,
          description: `Transfer to ${input.toUsername.trim()}`,
          operation: 'transfer',
          idempotencyKey: key,
          counterpartyWalletId: recipient.id,
        });
        await applyEntry(tx, recipient, {
          kind: 'CREDIT',
          amount: input.amount.minor,
          description: `Transfer from ${input.senderUsername}`,
          operation: 'transfer',
          idempotencyKey: key,
          counterpartyWalletId: sender.id,
        });
        await recordResult(tx, scope, key, debit.entry.id);
        return { ...debit, replayed: false };
      });
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
