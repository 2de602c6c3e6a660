// Ledger checks for tests, written once: a balance read the way a client reads it (through
// the gateway) and the way the database holds it; the invariants every wallet keeps, scoped
// to the wallets a test owns; the ledger a set of successful requests implies, computed from
// the responses alone, so a request applied twice cannot hide behind a total taken from the
// same ledger; and two tools for concurrency tests (lock waits, faults raised by the database).

import { randomBytes } from 'node:crypto';
import { type DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS } from '@giftpay/common';
import type postgres from 'postgres';
import { expect } from 'vitest';
import type { GraphQLResult } from './stack.ts';
import { waitUntil } from './waits.ts';

type Sql = postgres.Sql;

/**
 * Database waits for a ledger a test drives into contention on purpose (hundreds of requests on
 * a few wallets, locks held by the test): the service's 3 s lock_timeout answers
 * SERVICE_UNAVAILABLE by design, and on a loaded machine a queue behind a few deadlock checks
 * can reach it. These tests are about what is applied, not about bounded waits (tested
 * elsewhere), so a wait here ends in the outcome under test, not in a timeout.
 */
export const CONTENDED_LEDGER_TIMEOUTS: DatabaseTimeouts = Object.freeze({ ...DEFAULT_DATABASE_TIMEOUTS, statementMs: 60_000, lockMs: 30_000 });

/** Which wallets a check looks at: by owner (user id), by wallet id, or both. Never the whole table. */
export interface LedgerScope {
  readonly ownerIds?: readonly string[];
  readonly walletIds?: readonly string[];
}

export interface WalletFact {
  readonly id: string;
  readonly ownerId: string;
  readonly balance: bigint;
  readonly currencyCode: string;
}

export interface LedgerEntryFact {
  readonly id: string;
  readonly seq: bigint;
  readonly walletId: string;
  readonly ownerId: string;
  readonly kind: 'CREDIT' | 'DEBIT';
  readonly amount: bigint;
  readonly balanceAfter: bigint;
  readonly operation: 'credit' | 'spend' | 'transfer' | 'adjustment';
  readonly idempotencyKey: string | null;
  readonly counterpartyWalletId: string | null;
  readonly description: string;
}

function inScope(sql: Sql, scope: LedgerScope) {
  const ownerIds = scope.ownerIds ?? [];
  const walletIds = scope.walletIds ?? [];
  if (ownerIds.length === 0 && walletIds.length === 0) throw new Error('a ledger check needs the owners or wallets it is about');
  const byOwner = ownerIds.length > 0 ? sql`w.owner_id in ${sql(ownerIds as string[])}` : sql`false`;
  const byId = walletIds.length > 0 ? sql`w.id in ${sql(walletIds as string[])}` : sql`false`;
  return sql`(${byOwner} or ${byId})`;
}

export async function walletsOf(sql: Sql, scope: LedgerScope): Promise<WalletFact[]> {
  const rows = await sql`select w.id, w.owner_id, w.balance::text as balance, w.currency_code from wallet.wallets w where ${inScope(sql, scope)} order by w.id`;
  return rows.map((row) => ({ id: row.id, ownerId: row.owner_id, balance: BigInt(row.balance), currencyCode: row.currency_code }));
}

/** The entries of the wallets in scope, oldest first (by `seq`, the order the ledger chains them in). */
export async function ledgerEntriesOf(sql: Sql, scope: LedgerScope): Promise<LedgerEntryFact[]> {
  const rows = await sql`
    select e.id, e.seq::text as seq, e.wallet_id, w.owner_id, e.kind, e.amount::text as amount, e.balance_after::text as balance_after,
      e.operation, e.idempotency_key, e.counterparty_wallet_id, e.description
    from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id
    where ${inScope(sql, scope)} order by e.seq`;
  return rows.map((row) => ({
    id: row.id,
    seq: BigInt(row.seq),
    walletId: row.wallet_id,
    ownerId: row.owner_id,
    kind: row.kind,
    amount: BigInt(row.amount),
    balanceAfter: BigInt(row.balance_after),
    operation: row.operation,
    idempotencyKey: row.idempotency_key,
    counterpartyWalletId: row.counterparty_wallet_id,
    description: row.description,
  }));
}

/** The balance the database holds for a user, in minor units; 0 when the wallet does not exist yet (the API shows it empty). */
export async function balanceInDatabase(sql: Sql, ownerId: string): Promise<bigint> {
  const [wallet] = await walletsOf(sql, { ownerIds: [ownerId] });
  return wallet?.balance ?? 0n;
}

/** The balance a user sees through the gateway, as the Decimal string the API returns. */
export async function balanceThroughGateway(
  stack: { graphql<TData>(query: string, options?: { token?: string }): Promise<GraphQLResult<TData>> },
  user: { readonly token: string },
): Promise<string> {
  const result = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
  const amount = result.data?.me.wallet.balance.amount;
  if (amount === undefined || result.errors) throw new Error(`the balance could not be read: ${JSON.stringify(result.errors)}`);
  return amount;
}

const signed = (entry: LedgerEntryFact) => (entry.kind === 'CREDIT' ? entry.amount : -entry.amount);

/**
 * Checks what must hold for every wallet in scope, whatever happened to it: its balance is the
 * sum of its entries and never negative; each entry's balanceAfter follows from the one before;
 * and no request left two entries: at most one entry per wallet, idempotency key, operation,
 * kind and counterparty (a transfer's key belongs to its sender, so two senders may use the
 * same key towards one recipient). Returns what it read, for further checks.
 */
export async function assertLedgerInvariants(sql: Sql, scope: LedgerScope): Promise<{ wallets: WalletFact[]; entries: LedgerEntryFact[] }> {
  const wallets = await walletsOf(sql, scope);
  const entries = await ledgerEntriesOf(sql, scope);
  const mismatched: string[] = [];
  const brokenChain: string[] = [];
  for (const wallet of wallets) {
    let running = 0n;
    for (const entry of entries.filter((candidate) => candidate.walletId === wallet.id)) {
      running += signed(entry);
      if (entry.balanceAfter !== running || entry.balanceAfter < 0n) {
        brokenChain.push(`entry ${entry.id} (seq ${entry.seq}) says ${entry.balanceAfter}, the chain gives ${running}`);
      }
    }
    if (running !== wallet.balance || wallet.balance < 0n) mismatched.push(`wallet ${wallet.id}: balance ${wallet.balance}, entries sum to ${running}`);
  }
  const seen = new Map<string, number>();
  for (const entry of entries) {
    if (entry.idempotencyKey === null) continue;
    const identity = [entry.walletId, entry.idempotencyKey, entry.operation, entry.kind, entry.counterpartyWalletId ?? ''].join('\u0000');
    seen.set(identity, (seen.get(identity) ?? 0) + 1);
  }
  const duplicated = [...seen].filter(([, count]) => count > 1).map(([identity, count]) => `${identity.split('\u0000').join(' / ')}: ${count} entries`);
  expect(mismatched, 'each balance equals the sum of its entries and is not negative').toEqual([]);
  expect(brokenChain, 'each balanceAfter follows from the entry before').toEqual([]);
  expect(duplicated, 'at most one entry per wallet, key, operation and kind').toEqual([]);
  await assertBooksBalanced(sql);
  return { wallets, entries };
}

/** One currency of `wallet.ledger_report()`, amounts in minor units as text. */
export interface BooksRow {
  readonly currencyCode: string;
  readonly walletsTotal: string;
  readonly giftCardsRedeemed: string;
  readonly spent: string;
  readonly adjustments: string;
  readonly imbalance: string;
  readonly walletsOffTheirEntries: number;
  readonly entriesWithoutOtherSide: number;
}

/** The books of the test's whole database (each test file has its own), by the wallet's own report. */
export async function booksOf(sql: Sql): Promise<BooksRow[]> {
  const rows = await sql`select * from wallet.ledger_report()`;
  return rows.map((row) => ({
    currencyCode: row.currency_code as string,
    walletsTotal: row.wallets_total as string,
    giftCardsRedeemed: row.gift_cards_redeemed as string,
    spent: row.spent as string,
    adjustments: row.adjustments as string,
    imbalance: row.imbalance as string,
    walletsOffTheirEntries: Number(row.wallets_off_their_entries),
    entriesWithoutOtherSide: Number(row.entries_without_other_side),
  }));
}

/**
 * Double entry holds over the test's whole database: every currency sums to zero, every
 * wallet's balance is the sum of its entries, every entry (but a transfer's) has its other side.
 */
export async function assertBooksBalanced(sql: Sql): Promise<BooksRow[]> {
  const books = await booksOf(sql);
  const unbalanced = books.filter((row) => row.imbalance !== '0' || row.walletsOffTheirEntries !== 0 || row.entriesWithoutOtherSide !== 0);
  expect(unbalanced, 'the books balance: wallets - gift cards + spent - adjustments = 0, every side posted').toEqual([]);
  return books;
}

/** One request a test saw succeed, as the test sent it. Retries of a request are listed again; they count once. */
export type SuccessfulRequest =
  | {
      readonly operation: 'credit';
      readonly ownerId: string;
      readonly key: string;
      readonly amount: bigint;
      /** The idempotency scope the credit was sent under; the internal credit route uses `credit:<ownerId>`. */
      readonly scope?: string;
      readonly transactionId?: string;
    }
  | { readonly operation: 'spend'; readonly ownerId: string; readonly key: string; readonly amount: bigint; readonly transactionId?: string }
  | {
      readonly operation: 'transfer';
      readonly ownerId: string;
      readonly toOwnerId: string;
      readonly key: string;
      readonly amount: bigint;
      readonly transactionId?: string;
    };

export interface ExpectedLedger {
  /** Balance of every owner the requests touch, from a zero start. */
  readonly balances: ReadonlyMap<string, bigint>;
  readonly credited: bigint;
  readonly spent: bigint;
  /** Distinct successful transfers: each leaves exactly two entries. */
  readonly transfers: number;
  /** One request per distinct idempotency key. */
  readonly distinct: readonly SuccessfulRequest[];
}

function idempotencyScopeOf(request: SuccessfulRequest): string {
  return request.operation === 'credit' ? (request.scope ?? `credit:${request.ownerId}`) : `user:${request.ownerId}`;
}

/**
 * What the ledger must hold after these successes, computed from them alone: each distinct key
 * counts once. Two successes under one key that disagree (another amount, another recipient,
 * another transaction) fail here, since that key was applied twice.
 */
export function expectedFromResponses(successes: readonly SuccessfulRequest[]): ExpectedLedger {
  const byKey = new Map<string, SuccessfulRequest>();
  const disagreements: string[] = [];
  for (const request of successes) {
    const identity = `${idempotencyScopeOf(request)}\u0000${request.key}`;
    const first = byKey.get(identity);
    if (!first) {
      byKey.set(identity, request);
      continue;
    }
    const sameInput =
      first.operation === request.operation &&
      first.ownerId === request.ownerId &&
      first.amount === request.amount &&
      (first.operation !== 'transfer' || request.operation !== 'transfer' || first.toOwnerId === request.toOwnerId);
    const sameTransaction = first.transactionId === undefined || request.transactionId === undefined || first.transactionId === request.transactionId;
    if (!sameInput || !sameTransaction) disagreements.push(`key ${request.key} of ${idempotencyScopeOf(request)} succeeded twice with different results`);
  }
  expect(disagreements, 'one result per idempotency key').toEqual([]);
  const balances = new Map<string, bigint>();
  const add = (ownerId: string, delta: bigint) => balances.set(ownerId, (balances.get(ownerId) ?? 0n) + delta);
  let credited = 0n;
  let spent = 0n;
  let transfers = 0;
  for (const request of byKey.values()) {
    if (request.operation === 'credit') {
      credited += request.amount;
      add(request.ownerId, request.amount);
    } else if (request.operation === 'spend') {
      spent += request.amount;
      add(request.ownerId, -request.amount);
    } else {
      transfers += 1;
      add(request.ownerId, -request.amount);
      add(request.toOwnerId, request.amount);
    }
  }
  return { balances, credited, spent, transfers, distinct: [...byKey.values()] };
}

/**
 * Checks the ledger of the given owners against the successes a test counted from its responses
 * (all owners start empty): balances, the credited and spent sums, exactly two entries per
 * successful transfer, every returned transaction present, and the invariants above.
 */
export async function assertLedgerMatchesResponses(sql: Sql, successes: readonly SuccessfulRequest[], scope: { readonly ownerIds: readonly string[] }) {
  const expected = expectedFromResponses(successes);
  const ownerIds = [...new Set([...scope.ownerIds, ...expected.balances.keys()])];
  const { wallets, entries } = await assertLedgerInvariants(sql, { ownerIds });
  const actualBalances = Object.fromEntries(ownerIds.map((ownerId) => [ownerId, String(wallets.find((wallet) => wallet.ownerId === ownerId)?.balance ?? 0n)]));
  const expectedBalances = Object.fromEntries(ownerIds.map((ownerId) => [ownerId, String(expected.balances.get(ownerId) ?? 0n)]));
  expect(actualBalances, 'balances as the successful requests imply').toEqual(expectedBalances);
  const sumOf = (operation: LedgerEntryFact['operation']) =>
    entries.filter((entry) => entry.operation === operation).reduce((sum, entry) => sum + entry.amount, 0n);
  expect(sumOf('credit'), 'credited: the sum over distinct successful credit keys').toBe(expected.credited);
  expect(sumOf('spend'), 'spent: the sum over distinct successful spend keys').toBe(expected.spent);
  const transferEntries = entries.filter((entry) => entry.operation === 'transfer');
  expect(
    { debits: transferEntries.filter((entry) => entry.kind === 'DEBIT').length, credits: transferEntries.filter((entry) => entry.kind === 'CREDIT').length },
    'two entries per successful transfer',
  ).toEqual({ debits: expected.transfers, credits: expected.transfers });
  const ids = new Set(entries.map((entry) => entry.id));
  const missing = successes.flatMap((request) => (request.transactionId && !ids.has(request.transactionId) ? [request.transactionId] : []));
  expect(missing, 'every transaction a response named is in the ledger').toEqual([]);
  return { expected, wallets, entries };
}

/** A connection of the test's own, in an open transaction holding what `hold` locked there: a lock held elsewhere. */
export interface HeldLock {
  readonly connection: postgres.ReservedSql;
  /** Its backend, which requests waiting for the lock wait on (waitUntilBlockedBy). */
  readonly pid: number;
  /** Rolls back (the lock is free again) and gives the connection back; safe to call twice. */
  release(): Promise<void>;
}

/** Opens a transaction on a connection of its own and runs `lock` in it (a `select … for update`, an insert left uncommitted). */
export async function holdLock(sql: Sql, lock: (connection: postgres.ReservedSql) => Promise<unknown>): Promise<HeldLock> {
  const connection = await sql.reserve();
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await connection`rollback`.catch(() => {});
    connection.release();
  };
  try {
    await connection`begin`;
    await lock(connection);
    const [row] = await connection`select pg_backend_pid() as pid`;
    return { connection, pid: row?.pid as number, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** `ownerId`'s wallet row held by the test: a wallet held elsewhere. */
export type HeldWalletRow = HeldLock;

export function holdWalletRow(sql: Sql, ownerId: string): Promise<HeldWalletRow> {
  return holdLock(sql, (connection) => connection`select id from wallet.wallets where owner_id = ${ownerId} for update`);
}

/** A trigger a test put on a table, to make a statement fail where it chooses; `remove` is safe to call twice. */
export interface TestTrigger {
  remove(): Promise<void>;
}

/**
 * Puts a row trigger on `table` (`schema.table`) that runs `body`, PL/pgSQL over `new`, at
 * `timing` (e.g. `before insert`, `before update`); the body raises where the test wants a
 * statement to fail, and ends `return new;`.
 */
export async function installTestTrigger(sql: Sql, table: string, timing: 'before insert' | 'before update', body: string): Promise<TestTrigger> {
  if (!/^[a-z_]+\.[a-z_]+$/.test(table)) throw new Error('the table must be schema.table');
  const name = `test_trigger_${randomBytes(4).toString('hex')}`;
  await sql.unsafe(`create function public.${name}() returns trigger language plpgsql as $trigger$ begin ${body} end $trigger$`);
  await sql.unsafe(`create trigger ${name} ${timing} on ${table} for each row execute function public.${name}()`);
  let removed = false;
  return {
    async remove() {
      if (removed) return;
      removed = true;
      await sql.unsafe(`drop trigger if exists ${name} on ${table}`);
      await sql.unsafe(`drop function if exists public.${name}()`);
    },
  };
}

/**
 * Waits until at least `count` backends wait on a lock that `blockerPid` holds, and returns their
 * pids: the way a test knows a request is parked where it meant to park it.
 */
export async function waitUntilBlockedBy(sql: Sql, blockerPid: number, options: { count?: number; timeoutMs?: number } = {}): Promise<number[]> {
  const count = options.count ?? 1;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const rows = await sql`select pid from pg_stat_activity where ${blockerPid}::int = any(pg_blocking_pids(pid)) order by pid`;
    if (rows.length >= count) return rows.map((row) => row.pid as number);
    if (Date.now() > deadline) throw new Error(`no ${count} backend(s) came to wait on backend ${blockerPid}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits until at least `count` backends of this database wait on a lock, whoever holds it:
 * behind a row the test holds, one waits on the test and the others queue behind that one.
 */
export async function waitUntilWaitingOnLocks(sql: Sql, count: number, options: { timeoutMs?: number } = {}): Promise<void> {
  await waitUntil(
    `${count} backend(s) waiting on a lock`,
    async () => {
      const [row] = await sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0`;
      return (row?.n ?? 0) >= count ? true : null;
    },
    { timeoutMs: options.timeoutMs ?? 30_000 },
  );
}

export interface LedgerFault {
  /** How many ledger inserts matched so far (failed or not). */
  matched(): Promise<number>;
  remove(): Promise<void>;
}

/**
 * Makes the database itself refuse the first `times` ledger inserts whose description is
 * `description`, with `sqlstate` (e.g. 40001, a serialization failure; P0001, a plain error):
 * a real failure inside the service's own transaction, on a condition no other test meets.
 * The count lives in a sequence, which a rollback does not undo.
 */
export async function injectLedgerInsertFault(sql: Sql, options: { description: string; sqlstate: string; times?: number }): Promise<LedgerFault> {
  if (!/^[\w .:-]{1,100}$/.test(options.description)) throw new Error('the fault description must be plain text');
  if (!/^[0-9A-Z]{5}$/.test(options.sqlstate)) throw new Error('the SQLSTATE must be five characters');
  const times = options.times ?? 1;
  const name = `ledger_fault_${randomBytes(4).toString('hex')}`;
  await sql.unsafe(`create sequence public.${name}_seq`);
  await sql.unsafe(`
    create function public.${name}() returns trigger language plpgsql as $fault$
    begin
      if nextval('public.${name}_seq') <= ${times} then
        raise exception 'injected by the test: %', '${name}' using errcode = '${options.sqlstate}';
      end if;
      return new;
    end
    $fault$`);
  await sql.unsafe(
    `create trigger ${name} before insert on wallet.ledger_entries for each row when (new.description = '${options.description}') execute function public.${name}()`,
  );
  return {
    async matched() {
      const [row] = await sql.unsafe(`select case when is_called then last_value else 0 end::int as n from public.${name}_seq`);
      return row?.n as number;
    },
    async remove() {
      await sql.unsafe(`drop trigger if exists ${name} on wallet.ledger_entries`);
      await sql.unsafe(`drop function if exists public.${name}()`);
      await sql.unsafe(`drop sequence if exists public.${name}_seq`);
    },
  };
}
