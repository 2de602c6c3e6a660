// One order for every lock on two wallets, against a real PostgreSQL: a batch of credits or
// spends locks its wallets in the order of their owners, so a transfer must too. Otherwise a
// transfer between owners a < b whose wallet ids sort the other way round takes b's row while
// a batch holding a's waits for it, and each then waits for the other. PostgreSQL would break
// that after deadlock_timeout and the service retry; here deadlock_timeout is an hour, so a
// cycle stays in place and the test sees it in pg_locks instead of timing anything.

import { randomUUID } from 'node:crypto';
import type { Money } from '@giftpay/common';
import { connectDatabase } from '@giftpay/common/db';
import { CONTENDED_LEDGER_TIMEOUTS, createTestDatabase, holdWalletRow, type TestDatabase, waitUntil, waitUntilBlockedBy } from '@giftpay/testing';
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

      const settled = Promise.all([batch, transfer]).then(() => 'both answered' as const);
      const cycle = waitUntil('a lock cycle', async () => ((await backendsInACycle()).length > 0 ? ('a lock cycle' as const) : null), {
        timeoutMs: 60_000,
      });
      const outcome = await Promise.race([settled, cycle]);
      if (outcome === 'a lock cycle') {
        // Let the stuck statements go so the file can end; the assertion below fails the test.
        for (const pid of await backendsInACycle()) await database.sql`select pg_cancel_backend(${pid})`;
        await Promise.allSettled([batch, transfer]);
      }
      expect(outcome).toBe('both answered');
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
