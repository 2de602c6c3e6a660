// The ledger against a real PostgreSQL with a real connection pool: no overdraft, no money
// created or lost, each request applied once, under concurrency.

import { randomUUID } from 'node:crypto';
import type { Money } from '@giftpay/common';
import { connectDatabase } from '@giftpay/common/db';
import {
  assertLedgerInvariants,
  assertLedgerMatchesResponses,
  CONTENDED_LEDGER_TIMEOUTS,
  createTestDatabase,
  errorCodeOf,
  ledgerEntriesOf,
  type SuccessfulRequest,
  type TestDatabase,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger } from '../src/ledger.service.ts';

let database: TestDatabase;
let ledger: Ledger;
let close: () => Promise<void>;
const usernames = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  const connection = connectDatabase(database.url, schema, { applicationName: 'ledger-test', maxConnections: 20, timeouts: CONTENDED_LEDGER_TIMEOUTS });
  close = connection.close;
  ledger = createLedger({ db: connection.db, defaultCurrency: 'IRR', findUserIdByUsername: async (name) => usernames.get(name) ?? null });
});

afterAll(async () => {
  await close?.();
});

const irr = (minor: number | bigint): Money => ({ minor: BigInt(minor), currencyCode: 'IRR' });

function newUser(): string {
  const id = randomUUID();
  usernames.set(`u_${id.slice(0, 8)}`, id);
  return id;
}

function usernameOf(id: string): string {
  return `u_${id.slice(0, 8)}`;
}

/** Credits `amount` under a fresh key and returns the success, for tests that count what they sent. */
async function fund(ownerId: string, amount: number): Promise<SuccessfulRequest> {
  const key = randomUUID();
  const posted = await ledger.credit({ ownerId, amount: irr(amount), description: 'funding', idempotencyKey: key, scope: 'test' });
  return { operation: 'credit', ownerId, key, amount: BigInt(amount), scope: 'test', transactionId: posted.entry.id };
}

/** Runs a call and keeps its result or its contract code, so concurrent outcomes can be counted. */
async function outcomeOf<T>(promise: Promise<T>): Promise<{ result: T; code: null } | { result: null; code: string }> {
  try {
    return { result: await promise, code: null };
  } catch (error) {
    return { result: null, code: (error as { code?: string }).code ?? String(error) };
  }
}

describe('spend', () => {
  it('lets exactly 30 of 100 concurrent spends of 10 through a wallet holding 300, ending at 0', async () => {
    const owner = newUser();
    const funding = await fund(owner, 300);
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        outcomeOf(ledger.spend({ ownerId: owner, amount: irr(10), description: `spend ${index}`, idempotencyKey: `spend-${index}` })),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.code === null)).toHaveLength(30);
    expect(outcomes.filter((outcome) => outcome.code === 'INSUFFICIENT_FUNDS')).toHaveLength(70);
    const spends = outcomes.flatMap((outcome, index): SuccessfulRequest[] =>
      outcome.result ? [{ operation: 'spend', ownerId: owner, key: `spend-${index}`, amount: 10n, transactionId: outcome.result.entry.id }] : [],
    );
    const { wallets, entries } = await assertLedgerMatchesResponses(database.sql, [funding, ...spends], { ownerIds: [owner] });
    expect(wallets.map((wallet) => wallet.balance)).toEqual([0n]);
    // The last spend took the wallet to exactly 0; the invariants above saw no balanceAfter below it.
    expect(entries.at(-1)?.balanceAfter).toBe(0n);
  });

  it('refuses a currency that is not the wallet’s with CURRENCY_MISMATCH and moves nothing', async () => {
    const owner = newUser();
    await fund(owner, 100);
    const code = await errorCodeOf(ledger.spend({ ownerId: owner, amount: { minor: 100n, currencyCode: 'USD' }, description: 'x', idempotencyKey: 'usd' }));
    expect(code).toBe('CURRENCY_MISMATCH');
    expect((await ledger.ensureWallet(owner)).balance).toBe(100n);
  });

  it('leaves nothing half-written when a spend is refused', async () => {
    const owner = newUser();
    const funding = await fund(owner, 5);
    expect(await errorCodeOf(ledger.spend({ ownerId: owner, amount: irr(6), description: 'too much', idempotencyKey: 'k' }))).toBe('INSUFFICIENT_FUNDS');
    expect(await ledgerEntriesOf(database.sql, { ownerIds: [owner] })).toHaveLength(1);
    // The key was not consumed: the same key may be used once the wallet can pay.
    const topUp = await fund(owner, 1);
    const posted = await ledger.spend({ ownerId: owner, amount: irr(6), description: 'too much', idempotencyKey: 'k' });
    expect(posted.wallet.balance).toBe(0n);
    await assertLedgerMatchesResponses(
      database.sql,
      [funding, topUp, { operation: 'spend', ownerId: owner, key: 'k', amount: 6n, transactionId: posted.entry.id }],
      { ownerIds: [owner] },
    );
  });
});

describe('idempotency', () => {
  it('applies one spend when the same key arrives 20 times at once, returning the same transaction to all', async () => {
    const owner = newUser();
    const funding = await fund(owner, 1000);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => ledger.spend({ ownerId: owner, amount: irr(100), description: 'coffee', idempotencyKey: 'same-key' })),
    );
    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect((await ledger.ensureWallet(owner)).balance).toBe(900n);
    const { entries } = await assertLedgerMatchesResponses(
      database.sql,
      [
        funding,
        ...results.map((result): SuccessfulRequest => ({ operation: 'spend', ownerId: owner, key: 'same-key', amount: 100n, transactionId: result.entry.id })),
      ],
      { ownerIds: [owner] },
    );
    expect(entries.filter((entry) => entry.kind === 'DEBIT')).toHaveLength(1);
  });

  it('applies one credit when the same key arrives 20 times at once', async () => {
    const owner = newUser();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        ledger.credit({ ownerId: owner, amount: irr(500), description: 'gift', idempotencyKey: 'redemption-1', scope: 'credit:test' }),
      ),
    );
    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect((await ledger.ensureWallet(owner)).balance).toBe(500n);
    const { entries } = await assertLedgerMatchesResponses(
      database.sql,
      results.map(
        (result): SuccessfulRequest => ({
          operation: 'credit',
          ownerId: owner,
          key: 'redemption-1',
          amount: 500n,
          scope: 'credit:test',
          transactionId: result.entry.id,
        }),
      ),
      { ownerIds: [owner] },
    );
    expect(entries).toHaveLength(1);
  });

  it('refuses the same key with a different input with IDEMPOTENCY_KEY_REUSED', async () => {
    const owner = newUser();
    await fund(owner, 1000);
    await ledger.spend({ ownerId: owner, amount: irr(100), description: 'coffee', idempotencyKey: 'k1' });
    expect(await errorCodeOf(ledger.spend({ ownerId: owner, amount: irr(200), description: 'coffee', idempotencyKey: 'k1' }))).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await errorCodeOf(ledger.spend({ ownerId: owner, amount: irr(100), description: 'tea', idempotencyKey: 'k1' }))).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await ledger.ensureWallet(owner)).balance).toBe(900n);
  });

  it("keeps one user's keys apart from another's", async () => {
    const alice = newUser();
    const bob = newUser();
    await fund(alice, 100);
    await fund(bob, 100);
    const a = await ledger.spend({ ownerId: alice, amount: irr(10), description: 'x', idempotencyKey: 'shared' });
    const b = await ledger.spend({ ownerId: bob, amount: irr(20), description: 'y', idempotencyKey: 'shared' });
    expect(a.entry.id).not.toBe(b.entry.id);
    expect((await ledger.ensureWallet(bob)).balance).toBe(80n);
  });
});

describe('transfer', () => {
  it('moves money in one transaction: a debit on the sender and a credit on the recipient', async () => {
    const alice = newUser();
    const bob = newUser();
    await fund(alice, 100);
    const posted = await ledger.transfer({
      ownerId: alice,
      senderUsername: usernameOf(alice),
      toUsername: usernameOf(bob),
      amount: irr(40),
      idempotencyKey: 't1',
    });
    expect(posted.entry.kind).toBe('DEBIT');
    expect(posted.wallet.balance).toBe(60n);
    expect((await ledger.ensureWallet(bob)).balance).toBe(40n);
    await assertLedgerInvariants(database.sql, { ownerIds: [alice, bob] });
  });

  it('refuses an unknown recipient, oneself, and an overdraft, moving nothing', async () => {
    const alice = newUser();
    const bob = newUser();
    await fund(alice, 10);
    expect(await errorCodeOf(ledger.transfer({ ownerId: alice, senderUsername: 'a', toUsername: 'nobody', amount: irr(1), idempotencyKey: 'a' }))).toBe(
      'RECIPIENT_NOT_FOUND',
    );
    expect(
      await errorCodeOf(ledger.transfer({ ownerId: alice, senderUsername: 'a', toUsername: usernameOf(alice), amount: irr(1), idempotencyKey: 'b' })),
    ).toBe('BAD_USER_INPUT');
    expect(await errorCodeOf(ledger.transfer({ ownerId: alice, senderUsername: 'a', toUsername: usernameOf(bob), amount: irr(11), idempotencyKey: 'c' }))).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect((await ledger.ensureWallet(alice)).balance).toBe(10n);
    expect((await ledger.ensureWallet(bob)).balance).toBe(0n);
  });

  it('moves exactly what the successful transfers say over 300 random concurrent transfers in both directions, with no deadlock reaching a caller', async () => {
    const people = Array.from({ length: 6 }, newUser);
    const funding: SuccessfulRequest[] = [];
    for (const person of people) funding.push(await fund(person, 1000));
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const transfers = Array.from({ length: 300 }, (_, index) => {
      const from = people[Math.floor(random() * people.length)] as string;
      let to = people[Math.floor(random() * people.length)] as string;
      if (to === from) to = people[(people.indexOf(from) + 1) % people.length] as string;
      return { from, to, amount: 1 + Math.floor(random() * 300), key: `bank-${index}` };
    });
    const outcomes = await Promise.all(
      transfers.map((t) =>
        outcomeOf(
          ledger.transfer({ ownerId: t.from, senderUsername: usernameOf(t.from), toUsername: usernameOf(t.to), amount: irr(t.amount), idempotencyKey: t.key }),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.code !== null && outcome.code !== 'INSUFFICIENT_FUNDS')).toEqual([]);
    // What the ledger must hold comes from the answers alone: a transfer applied twice, or a
    // refused one that left an entry, changes balances and entry counts the answers do not explain.
    const succeeded = transfers.flatMap((t, index): SuccessfulRequest[] => {
      const posted = outcomes[index]?.result;
      return posted ? [{ operation: 'transfer', ownerId: t.from, toOwnerId: t.to, key: t.key, amount: BigInt(t.amount), transactionId: posted.entry.id }] : [];
    });
    expect(succeeded.length).toBeGreaterThan(100);
    const { wallets, entries } = await assertLedgerMatchesResponses(database.sql, [...funding, ...succeeded], { ownerIds: people });
    expect(entries.filter((entry) => entry.operation === 'transfer')).toHaveLength(2 * succeeded.length);
    expect(wallets.reduce((sum, wallet) => sum + wallet.balance, 0n)).toBe(6000n);
  });
});

describe('the ledger table', () => {
  it('refuses to update, delete or truncate entries, and leaves them as they were', async () => {
    const owner = newUser();
    await fund(owner, 10);
    const before = await ledgerEntriesOf(database.sql, { ownerIds: [owner] });
    expect(before).toHaveLength(1);
    const walletId = before[0]?.walletId as string;
    await expect(database.sql`update wallet.ledger_entries set amount = 1000000 where wallet_id = ${walletId}`).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(database.sql`delete from wallet.ledger_entries where wallet_id = ${walletId}`).rejects.toThrow(/append-only: DELETE refused/);
    await expect(database.sql`truncate wallet.ledger_entries cascade`).rejects.toThrow(/append-only: TRUNCATE refused/);
    expect(await ledgerEntriesOf(database.sql, { ownerIds: [owner] })).toEqual(before);
    await assertLedgerInvariants(database.sql, { ownerIds: [owner] });
  });

  it('refuses a negative stored balance', async () => {
    const owner = newUser();
    await fund(owner, 10);
    await expect(database.sql`update wallet.wallets set balance = -1 where owner_id = ${owner}`).rejects.toThrow(/wallets_balance_not_negative/);
  });
});
