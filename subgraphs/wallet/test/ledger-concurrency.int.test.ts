// The ledger when a transaction fails under it, against a real PostgreSQL: a request that holds
// an idempotency key and then rolls back must leave the key to the request waiting behind it,
// and the deadlocks and serialization failures the service retries must reach no caller and
// apply nothing twice. Failures are real ones raised by the database: a lock the test holds,
// a deadlock it closes, a trigger it adds for one description only. Nothing is mocked.

import { randomUUID } from 'node:crypto';
import type { Money } from '@giftpay/common';
import { connectDatabase } from '@giftpay/common/db';
import {
  assertLedgerMatchesResponses,
  CONTENDED_LEDGER_TIMEOUTS,
  createTestDatabase,
  holdLock,
  injectLedgerInsertFault,
  ledgerEntriesOf,
  type SuccessfulRequest,
  type TestDatabase,
  waitUntil,
  waitUntilBlockedBy,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger, type PostedTransaction } from '../src/ledger.service.ts';

/**
 * How long the service's connections wait on a lock before PostgreSQL looks for a deadlock. The
 * test's own connection looks much later, so the service is always the one that detects it and
 * is chosen to fail; the margin lets the test close the cycle before the service looks.
 */
const SERVICE_DEADLOCK_TIMEOUT = '2s';

let database: TestDatabase;
let ledger: Ledger;
let close: () => Promise<void>;

beforeAll(async () => {
  database = await createTestDatabase();
  // Set before the service's pool opens a connection: each new session reads it.
  await database.sql.unsafe(`alter database "${database.name}" set deadlock_timeout = '${SERVICE_DEADLOCK_TIMEOUT}'`);
  const connection = connectDatabase(database.url, schema, {
    applicationName: 'ledger-concurrency-test',
    maxConnections: 10,
    timeouts: CONTENDED_LEDGER_TIMEOUTS,
  });
  close = connection.close;
  ledger = createLedger({ db: connection.db, defaultCurrency: 'IRR', findUserIdByUsername: async () => null });
});

afterAll(async () => {
  await close?.();
});

const irr = (minor: number): Money => ({ minor: BigInt(minor), currencyCode: 'IRR' });

type Settled = { ok: true; value: PostedTransaction } | { ok: false; error: unknown };

function settle(promise: Promise<PostedTransaction>): Promise<Settled> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** The SQLSTATE of a failed call, found through drizzle's wrapping of the driver's error. */
function sqlStateOf(result: Settled): string | undefined {
  let current: unknown = result.ok ? undefined : result.error;
  while (current && typeof current === 'object') {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    current = cause;
  }
  return undefined;
}

/** The deadlocks PostgreSQL has detected in this file's database (its own: no other file adds to it). */
async function deadlocksDetected(): Promise<number> {
  const [row] = await database.sql`select deadlocks::int as n from pg_stat_database where datname = current_database()`;
  return Number(row?.n);
}

/**
 * `owner`'s wallet row, or the idempotency key `key.key` in `key.scope` (claimed,
 * uncommitted), held by the test, whose side PostgreSQL never picks to break a deadlock.
 */
function holdWalletRow(owner: string, what: 'row' | { scope: string; key: string } = 'row') {
  return holdLock(database.sql, async (connection) => {
    await connection`set local deadlock_timeout = '60s'`;
    if (what === 'row') await connection`select id from wallet.wallets where owner_id = ${owner} for update`;
    else await connection`insert into wallet.idempotency_keys (scope, key, request_hash) values (${what.scope}, ${what.key}, 'held by the test')`;
  });
}

describe('a same-key pair whose first transaction rolls back', () => {
  it('applies the second request exactly once after the first, which claimed the key, fails and rolls back', async () => {
    const owner = randomUUID();
    await ledger.ensureWallet(owner);
    const description = `rollback ${randomUUID()}`;
    const key = randomUUID();
    const credit = () => ledger.credit({ ownerId: owner, amount: irr(700), description, idempotencyKey: key, scope: `credit:${owner}` });
    // The first ledger insert with this description fails inside the database (P0001): a real
    // failure late in the first transaction, after it has claimed the key.
    const fault = await injectLedgerInsertFault(database.sql, { description, sqlstate: 'P0001', times: 1 });
    const holder = await holdWalletRow(owner);
    try {
      // The first request parks on the wallet row the test holds (post_entry takes the row
      // before the key); given it, it claims the key and fails late, after the claim.
      const first = settle(credit());
      const [firstPid] = await waitUntilBlockedBy(database.sql, holder.pid);
      // The second, same key and input, parks behind the first for the row.
      const second = settle(credit());
      await waitUntilBlockedBy(database.sql, firstPid as number);
      await holder.release();

      const [firstResult, secondResult] = await Promise.all([first, second]);
      expect(sqlStateOf(firstResult)).toBe('P0001');
      expect(secondResult.ok).toBe(true);
      const posted = (secondResult as { value: PostedTransaction }).value;
      expect(posted.replayed).toBe(false);
      expect(posted.wallet.balance).toBe(700n);
      expect(await fault.matched()).toBe(2);

      // The key now belongs to the second request: a retry replays it.
      const retry = await credit();
      expect(retry).toMatchObject({ replayed: true, entry: { id: posted.entry.id } });
      const entries = await ledgerEntriesOf(database.sql, { ownerIds: [owner] });
      expect(entries.map((entry) => entry.id)).toEqual([posted.entry.id]);
      const successes: SuccessfulRequest[] = [posted, retry].map((result) => ({
        operation: 'credit',
        ownerId: owner,
        key,
        amount: 700n,
        transactionId: result.entry.id,
      }));
      await assertLedgerMatchesResponses(database.sql, successes, { ownerIds: [owner] });
    } finally {
      await holder.release();
      await fault.remove();
    }
  });
});

describe('transactions the service retries', () => {
  it('retries a spend that loses a real deadlock, so the caller gets one success and the ledger one entry', async () => {
    const owner = randomUUID();
    const fundingKey = randomUUID();
    const funding = await ledger.credit({ ownerId: owner, amount: irr(1000), description: 'funding', idempotencyKey: fundingKey, scope: `credit:${owner}` });
    const key = randomUUID();
    const deadlocksBefore = await deadlocksDetected();
    // The test claims the spend's key first (as no service writer would: each takes the
    // wallet's row before its key), to close a cycle with the spend.
    const holder = await holdWalletRow(owner, { scope: `user:${owner}`, key });
    try {
      // The spend takes the wallet's row, then waits for the key the test holds.
      const spend = settle(ledger.spend({ ownerId: owner, amount: irr(250), description: 'deadlocked', idempotencyKey: key }));
      await waitUntilBlockedBy(database.sql, holder.pid);
      // The test now waits for the spend's row: each waits for the other. PostgreSQL breaks the
      // cycle by failing the spend's transaction with 40P01; only then does this lock go
      // through, which proves the first attempt was rolled back.
      await holder.connection`select id from wallet.wallets where owner_id = ${owner} for update`;
      // The retry waits for the row the test now holds; let it through.
      await waitUntilBlockedBy(database.sql, holder.pid);
      await holder.release();

      const result = await spend;
      expect(result.ok).toBe(true);
      const posted = (result as { value: PostedTransaction }).value;
      expect(posted.replayed).toBe(false);
      expect(posted.wallet.balance).toBe(750n);
      const { entries } = await assertLedgerMatchesResponses(
        database.sql,
        [
          { operation: 'credit', ownerId: owner, key: fundingKey, amount: 1000n, transactionId: funding.entry.id },
          { operation: 'spend', ownerId: owner, key, amount: 250n, transactionId: posted.entry.id },
        ],
        { ownerIds: [owner] },
      );
      expect(entries.filter((entry) => entry.idempotencyKey === key)).toHaveLength(1);
      // The fault was a real deadlock, detected by PostgreSQL once, not a lock wait that ended
      // some other way. A backend adds its count to pg_stat_database only when it next goes
      // idle, so the count is polled for.
      await waitUntil('PostgreSQL to count the deadlock', async () => (await deadlocksDetected()) > deadlocksBefore);
      expect((await deadlocksDetected()) - deadlocksBefore).toBe(1);
    } finally {
      await holder.release();
    }
  });

  it('retries a credit that fails with a serialization failure (40001), so the caller gets one success and the ledger one entry', async () => {
    const owner = randomUUID();
    const description = `serialization ${randomUUID()}`;
    const key = randomUUID();
    const fault = await injectLedgerInsertFault(database.sql, { description, sqlstate: '40001', times: 2 });
    try {
      const posted = await ledger.credit({ ownerId: owner, amount: irr(300), description, idempotencyKey: key, scope: `credit:${owner}` });
      expect(posted.replayed).toBe(false);
      expect(posted.wallet.balance).toBe(300n);
      // Two attempts failed in the database and the third went through.
      expect(await fault.matched()).toBe(3);
      const { entries } = await assertLedgerMatchesResponses(
        database.sql,
        [{ operation: 'credit', ownerId: owner, key, amount: 300n, transactionId: posted.entry.id }],
        { ownerIds: [owner] },
      );
      expect(entries).toHaveLength(1);
    } finally {
      await fault.remove();
    }
  });

  it('does not retry a failure that is not transient: the caller gets it and nothing is written', async () => {
    const owner = randomUUID();
    const description = `not transient ${randomUUID()}`;
    const fault = await injectLedgerInsertFault(database.sql, { description, sqlstate: '23514', times: 1 });
    try {
      const result = await settle(ledger.credit({ ownerId: owner, amount: irr(300), description, idempotencyKey: randomUUID(), scope: `credit:${owner}` }));
      expect(sqlStateOf(result)).toBe('23514');
      expect(await fault.matched()).toBe(1);
      expect(await ledgerEntriesOf(database.sql, { ownerIds: [owner] })).toEqual([]);
    } finally {
      await fault.remove();
    }
  });
});
