// The ledger against a real PostgreSQL with a real connection pool: no overdraft, no money
// created or lost, each request applied once, under concurrency.

import { randomUUID } from 'node:crypto';
import { connectDatabase, type Money } from '@giftpay/common';
import { createTestDatabase, errorCodeOf, type TestDatabase } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger } from '../src/ledger.service.ts';

let database: TestDatabase;
let ledger: Ledger;
let close: () => Promise<void>;
const usernames = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  const connection = connectDatabase(database.url, schema, { applicationName: 'ledger-test', maxConnections: 20 });
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

async function fund(ownerId: string, amount: number): Promise<void> {
  await ledger.credit({ ownerId, amount: irr(amount), description: 'funding', idempotencyKey: randomUUID(), scope: 'test' });
}

/** Every wallet's balance equals the sum of its entries, and every balanceAfter chains from the one before. */
async function expectLedgerConsistent(): Promise<void> {
  const mismatched = await database.sql`
    select w.id, w.balance, coalesce(sum(case when e.kind = 'CREDIT' then e.amount else -e.amount end), 0) as total
    from wallet.wallets w left join wallet.ledger_entries e on e.wallet_id = w.id
    group by w.id having w.balance <> coalesce(sum(case when e.kind = 'CREDIT' then e.amount else -e.amount end), 0)`;
  expect(mismatched).toEqual([]);
  const broken = await database.sql`
    select id from (
      select id, balance_after,
        lag(balance_after, 1, 0::bigint) over (partition by wallet_id order by seq) + case when kind = 'CREDIT' then amount else -amount end as expected
      from wallet.ledger_entries) chained
    where balance_after <> expected`;
  expect(broken).toEqual([]);
}

describe('spend', () => {
  it('lets exactly 30 of 100 concurrent spends of 10 through a wallet holding 300, ending at 0', async () => {
    const owner = newUser();
    await fund(owner, 300);
    const codes = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        errorCodeOf(ledger.spend({ ownerId: owner, amount: irr(10), description: `spend ${index}`, idempotencyKey: `spend-${index}` })),
      ),
    );
    expect(codes.filter((code) => code === null)).toHaveLength(30);
    expect(codes.filter((code) => code === 'INSUFFICIENT_FUNDS')).toHaveLength(70);
    const wallet = await ledger.ensureWallet(owner);
    expect(wallet.balance).toBe(0n);
    const [lowest] = await database.sql`select min(balance_after) as lowest from wallet.ledger_entries where wallet_id = ${wallet.id}`;
    expect(BigInt(lowest?.lowest)).toBe(0n);
    await expectLedgerConsistent();
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
    await fund(owner, 5);
    expect(await errorCodeOf(ledger.spend({ ownerId: owner, amount: irr(6), description: 'too much', idempotencyKey: 'k' }))).toBe('INSUFFICIENT_FUNDS');
    // The key was not consumed: the same key may be used once the wallet can pay.
    await fund(owner, 1);
    const posted = await ledger.spend({ ownerId: owner, amount: irr(6), description: 'too much', idempotencyKey: 'k' });
    expect(posted.wallet.balance).toBe(0n);
    await expectLedgerConsistent();
  });
});

describe('idempotency', () => {
  it('applies one spend when the same key arrives 20 times at once, returning the same transaction to all', async () => {
    const owner = newUser();
    await fund(owner, 1000);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => ledger.spend({ ownerId: owner, amount: irr(100), description: 'coffee', idempotencyKey: 'same-key' })),
    );
    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect((await ledger.ensureWallet(owner)).balance).toBe(900n);
    const [count] =
      await database.sql`select count(*)::int as n from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id where w.owner_id = ${owner} and e.kind = 'DEBIT'`;
    expect(count?.n).toBe(1);
  });

  it('applies one credit when the same key arrives 20 times at once', async () => {
    const owner = newUser();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        ledger.credit({ ownerId: owner, amount: irr(500), description: 'gift', idempotencyKey: 'redemption-1', scope: 'credit:test' }),
      ),
    );
    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect((await ledger.ensureWallet(owner)).balance).toBe(500n);
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
    await expectLedgerConsistent();
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

  it('keeps the total unchanged and every chain intact over 300 random concurrent transfers in both directions, with no deadlock reaching a caller', async () => {
    const people = Array.from({ length: 6 }, newUser);
    for (const person of people) await fund(person, 1000);
    const [before] = await database.sql`select sum(balance)::bigint as total from wallet.wallets where owner_id in ${database.sql(people)}`;
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
    const codes = await Promise.all(
      transfers.map((t) =>
        errorCodeOf(
          ledger.transfer({ ownerId: t.from, senderUsername: usernameOf(t.from), toUsername: usernameOf(t.to), amount: irr(t.amount), idempotencyKey: t.key }),
        ),
      ),
    );
    expect(codes.filter((code) => code !== null && code !== 'INSUFFICIENT_FUNDS')).toEqual([]);
    expect(codes.filter((code) => code === null).length).toBeGreaterThan(100);
    const [after] = await database.sql`select sum(balance)::bigint as total from wallet.wallets where owner_id in ${database.sql(people)}`;
    expect(after?.total).toBe(before?.total);
    await expectLedgerConsistent();
  });
});

describe('the ledger table', () => {
  it('refuses to update or delete an entry', async () => {
    const owner = newUser();
    await fund(owner, 10);
    await expect(database.sql`update wallet.ledger_entries set amount = 1000000`).rejects.toThrow(/append-only/);
    await expect(database.sql`delete from wallet.ledger_entries`).rejects.toThrow(/append-only/);
  });

  it('refuses a negative stored balance', async () => {
    const owner = newUser();
    await fund(owner, 10);
    await expect(database.sql`update wallet.wallets set balance = -1 where owner_id = ${owner}`).rejects.toThrow(/wallets_balance_not_negative/);
  });
});
