// One order for every lock on two wallets, against a real PostgreSQL: a batch of credits or
// spends locks its wallets in the order of their owners, so a transfer must too. Otherwise a
// transfer between owners a < b whose wallet ids sort the other way round takes b's row while
// a batch holding a's waits for it, and each then waits for the other. PostgreSQL would break
// that after deadlock_timeout and the service retry; here deadlock_timeout is an hour, so a
// cycle stays in place and the test sees it in pg_locks instead of timing anything.

import { randomUUID } from 'node:crypto';
import type { Money } from '@giftpay/common';
import { connectDatabase } from '@giftpay/common/db';
import {
  balanceInDatabase,
  CONTENDED_LEDGER_TIMEOUTS,
  createTestDatabase,
  holdWalletRow,
  type TestDatabase,
  waitUntil,
  waitUntilBlockedBy,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger } from '../src/ledger.service.ts';

let database: TestDatabase;
let ledger: Ledger;
let close: () => Promise<void>;
const ownerOfUsername = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  // Read by every session opened from now on: no deadlock is broken for the test.
  await database.sql.unsafe(`alter database "${database.name}" set deadlock_timeout = '1h'`);
  const connection = connectDatabase(database.url, schema, {
    applicationName: 'ledger-lock-order-test',
    maxConnections: 10,
    timeouts: CONTENDED_LEDGER_TIMEOUTS,
  });
  close = connection.close;
  ledger = createLedger({
    db: connection.db,
    defaultCurrency: 'IRR',
    findUserIdByUsername: async (username) => ownerOfUsername.get(username) ?? null,
  });
});

afterAll(async () => {
  await close?.();
});

const irr = (minor: number): Money => ({ minor: BigInt(minor), currencyCode: 'IRR' });

/** Service backends of this database that wait for one another: a lock cycle. */
async function backendsInACycle(): Promise<number[]> {
  const rows = await database.sql`
    select a.pid from pg_stat_activity a
    where a.datname = current_database()
      and exists (select 1 from unnest(pg_blocking_pids(a.pid)) as b(pid) where a.pid = any(pg_blocking_pids(b.pid)))`;
  return rows.map((row) => row.pid as number);
}

/**
 * 'both answered' once every one of `requests` settles, or 'a lock cycle' as soon as their
 * backends wait for each other (then cancelled, so the file can end).
 */
async function settledOrInACycle(requests: readonly Promise<unknown>[]): Promise<'both answered' | 'a lock cycle'> {
  const settled = Promise.all(requests).then(() => 'both answered' as const);
  const cycle = waitUntil('a lock cycle', async () => ((await backendsInACycle()).length > 0 ? ('a lock cycle' as const) : null), {
    timeoutMs: 60_000,
  });
  const outcome = await Promise.race([settled, cycle]);
  if (outcome === 'a lock cycle') {
    for (const pid of await backendsInACycle()) await database.sql`select pg_cancel_backend(${pid})`;
    await Promise.allSettled(requests);
  }
  return outcome;
}

describe('a transfer beside a batch over the same two wallets', () => {
  it('locks them in the owners’ order as the batch does, so the two wait in turn and never wait for each other', async () => {
    // Owners a < b whose wallets' ids sort the other way round (an even chance for each pair).
    let pair: { a: string; b: string } | null = null;
    for (let tries = 0; tries < 40 && !pair; tries += 1) {
      const [a, b] = [randomUUID(), randomUUID()].sort() as [string, string];
      const [walletA, walletB] = [await ledger.ensureWallet(a), await ledger.ensureWallet(b)];
      if (walletB.id < walletA.id) pair = { a, b };
    }
    if (!pair) throw new Error('no pair of owners whose wallet ids sort the other way round in 40 tries');
    const { a, b } = pair;
    ownerOfUsername.set(`user-${b}`, b);
    await ledger.credit({ ownerId: a, amount: irr(1000), description: 'funding', idempotencyKey: randomUUID(), scope: `credit:${a}` });

    // The test holds a's row, so the batch queues for it first, and the transfer after it.
    const holder = await holdWalletRow(database.sql, a);
    try {
      const holderPid = holder.pid;
      const credits = [a, b].map((ownerId) => ({ ownerId, amount: irr(10), description: 'batch', idempotencyKey: randomUUID(), scope: `credit:${ownerId}` }));
      const batch = ledger.creditMany(credits);
      const [batchPid] = await waitUntilBlockedBy(database.sql, holderPid);
      const transfer = ledger.transfer({ ownerId: a, senderUsername: `user-${a}`, toUsername: `user-${b}`, amount: irr(100), idempotencyKey: randomUUID() });
      // The transfer queues behind the batch for a row: a's, when it locks in the owners' order
      // (with locks by wallet id, it holds b's by now and waits for a's all the same).
      await waitUntilBlockedBy(database.sql, batchPid as number);
      await holder.release();

      expect(await settledOrInACycle([batch, transfer])).toBe('both answered');
      const [batchResults, transferred] = await Promise.all([batch, transfer]);
      expect(batchResults.map((result) => (result instanceof Error ? result.message : result.wallet.balance))).toEqual([1010n, 10n]);
      expect(transferred.replayed).toBe(false);
      const balances = await database.sql`select owner_id, balance::text as balance from wallet.wallets where owner_id in (${a}, ${b}) order by owner_id`;
      expect(balances.map((wallet) => wallet.balance)).toEqual(['910', '110']);
    } finally {
      await holder.release();
    }
  });
});

describe('a single credit beside a batch of credits to the same wallet', () => {
  it('takes the wallet’s row before its key, as the batch does, so a batch holding the row never waits for the single’s key', async () => {
    const a = randomUUID();
    const credit = (amount: number) => ({ ownerId: a, amount: irr(amount), description: 'batch', idempotencyKey: randomUUID(), scope: `credit:${a}` });
    await ledger.credit(credit(1000));
    const [first, second] = [credit(10), credit(20)];

    // The test holds a's row, so the batch queues for it first, and the single credit (the
    // batch's second credit, sent again alone, as the relay might) after it.
    const holder = await holdWalletRow(database.sql, a);
    try {
      const batch = ledger.creditMany([first, second]);
      const [batchPid] = await waitUntilBlockedBy(database.sql, holder.pid);
      const single = ledger.credit(second);
      // Had the single claimed its key before queueing for the row, the batch, given the row,
      // would wait for that key at its second credit while the single waits for the row.
      await waitUntilBlockedBy(database.sql, batchPid as number);
      await holder.release();

      expect(await settledOrInACycle([batch, single])).toBe('both answered');
      const [batchResults, alone] = await Promise.all([batch, single]);
      expect(batchResults.map((result) => (result instanceof Error ? result.message : [result.wallet.balance, result.replayed]))).toEqual([
        [1010n, false],
        [1030n, false],
      ]);
      expect([alone.entry.id, alone.replayed]).toEqual([(batchResults[1] as { entry: { id: string } }).entry.id, true]);
      expect(await balanceInDatabase(database.sql, a)).toBe(1030n);
    } finally {
      await holder.release();
    }
  });
});

describe('a transfer and a spend of the same user under the same key', () => {
  it('queue for the sender’s row before either claims the key, so the later one is refused as a reused key rather than caught in a cycle', async () => {
    const [a, b] = [randomUUID(), randomUUID()].sort() as [string, string];
    ownerOfUsername.set(`user-${b}`, b);
    await ledger.credit({ ownerId: a, amount: irr(1000), description: 'funding', idempotencyKey: randomUUID(), scope: `credit:${a}` });
    await ledger.ensureWallet(b);
    const key = randomUUID();

    const holder = await holdWalletRow(database.sql, a);
    try {
      const spend = ledger.spend({ ownerId: a, amount: irr(100), description: 'coffee', idempotencyKey: key });
      const [spendPid] = await waitUntilBlockedBy(database.sql, holder.pid);
      const transfer = ledger.transfer({ ownerId: a, senderUsername: `user-${a}`, toUsername: `user-${b}`, amount: irr(200), idempotencyKey: key });
      // Had the transfer claimed the key before queueing for the row, the spend, given the
      // row, would wait for that key while the transfer waits for the row.
      await waitUntilBlockedBy(database.sql, spendPid as number);
      await holder.release();

      const settled = [spend, transfer].map((request) =>
        request.then(
          () => 'ok',
          (error: Error & { code?: string }) => error.code ?? error.message,
        ),
      );
      expect(await settledOrInACycle(settled)).toBe('both answered');
      expect(await Promise.all(settled)).toEqual(['ok', 'IDEMPOTENCY_KEY_REUSED']);
      expect(await balanceInDatabase(database.sql, a)).toBe(900n);
      expect(await balanceInDatabase(database.sql, b)).toBe(0n);
    } finally {
      await holder.release();
    }
  });
});

describe('a transfer to an owner with no wallet yet, beside a batch that credits both', () => {
  it('locks the sender’s row before it creates the recipient’s wallet, so the batch creating that wallet never waits for it', async () => {
    const [a, b] = [randomUUID(), randomUUID()].sort() as [string, string];
    ownerOfUsername.set(`user-${b}`, b);
    await ledger.credit({ ownerId: a, amount: irr(1000), description: 'funding', idempotencyKey: randomUUID(), scope: `credit:${a}` });

    const holder = await holdWalletRow(database.sql, a);
    try {
      const credits = [a, b].map((ownerId) => ({ ownerId, amount: irr(10), description: 'batch', idempotencyKey: randomUUID(), scope: `credit:${ownerId}` }));
      const batch = ledger.creditMany(credits);
      const [batchPid] = await waitUntilBlockedBy(database.sql, holder.pid);
      // Had the transfer created b's wallet before queueing for a's row, it would hold that
      // new row while the batch, given a's, waits to create b's.
      const transfer = ledger.transfer({ ownerId: a, senderUsername: `user-${a}`, toUsername: `user-${b}`, amount: irr(100), idempotencyKey: randomUUID() });
      await waitUntilBlockedBy(database.sql, batchPid as number);
      await holder.release();

      expect(await settledOrInACycle([batch, transfer])).toBe('both answered');
      const [batchResults] = await Promise.all([batch, transfer]);
      expect(batchResults.map((result) => (result instanceof Error ? result.message : result.wallet.balance))).toEqual([1010n, 10n]);
      expect([await balanceInDatabase(database.sql, a), await balanceInDatabase(database.sql, b)]).toEqual([910n, 110n]);
    } finally {
      await holder.release();
    }
  });
});
