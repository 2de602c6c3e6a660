// The wallet's reads in batches, against a real PostgreSQL with a real pool: concurrent reads
// leave together (one statement for the wallets, one for the pages), and each caller still
// gets its own wallet and its own page, exactly as the table holds them, whatever else is in
// the batch (other wallets, other page sizes, cursors, owners with no wallet yet).

import { randomUUID } from 'node:crypto';
import { connectDatabase } from '@giftpay/common/db';
import { createTestDatabase, type TestDatabase } from '@giftpay/testing';
import { drizzle } from 'drizzle-orm/postgres-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger } from '../src/ledger.service.ts';

let database: TestDatabase;
let ledger: Ledger;
let close: () => Promise<void>;
/** Every statement the ledger sent, in order. */
const statements: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const connection = connectDatabase(database.url, schema, { applicationName: 'ledger-reads-test', maxConnections: 10 });
  close = connection.close;
  const db = drizzle(connection.sql, { schema, logger: { logQuery: (query) => statements.push(query) } });
  ledger = createLedger({ db, defaultCurrency: 'IRR', findUserIdByUsername: async () => null });
});

afterAll(async () => {
  await close?.();
});

/** A user whose wallet holds `entries` credits of 1, 2, 3… IRR, oldest first. */
async function userWithEntries(entries: number): Promise<string> {
  const ownerId = randomUUID();
  await ledger.ensureWallet(ownerId);
  for (let step = 1; step <= entries; step += 1) {
    await ledger.credit({
      ownerId,
      amount: { minor: BigInt(step), currencyCode: 'IRR' },
      description: `credit ${step}`,
      idempotencyKey: randomUUID(),
      scope: 'test',
    });
  }
  return ownerId;
}

/** The page as the table holds it, read straight with SQL: entry ids, newest first. */
async function pageInTable(walletId: string, limit: number, beforeSeq: bigint | null): Promise<string[]> {
  const rows = await database.sql<{ id: string }[]>`
    select id from wallet.ledger_entries
    where wallet_id = ${walletId} and (${beforeSeq === null ? null : beforeSeq.toString()}::bigint is null or seq < ${beforeSeq === null ? null : beforeSeq.toString()}::bigint)
    order by seq desc limit ${limit}`;
  return rows.map((row) => row.id);
}

describe('reads in batches', () => {
  it('answers each concurrent reader with its own wallet and its own page, as the table holds them', async () => {
    const owners = [];
    for (let index = 0; index < 24; index += 1) owners.push(await userWithEntries(index % 13));
    const read = async (ownerId: string) => {
      const wallet = await ledger.ensureWallet(ownerId);
      return { wallet, page: await ledger.listEntries(wallet.id, 10, null) };
    };
    const answers = await Promise.all(owners.map(read));
    for (const [index, { wallet, page }] of answers.entries()) {
      const entries = index % 13;
      expect(wallet.ownerId).toBe(owners[index]);
      // 1 + 2 + … + entries
      expect(wallet.balance).toBe(BigInt((entries * (entries + 1)) / 2));
      expect(page.map((entry) => entry.id)).toEqual(await pageInTable(wallet.id, 11, null));
      expect(page.every((entry) => entry.walletId === wallet.id)).toBe(true);
      // Decoded as the table's columns: bigints, a date, newest first.
      expect(page.map((entry) => entry.amount)).toEqual(Array.from({ length: Math.min(entries, 11) }, (_, step) => BigInt(entries - step)));
      if (page[0]) {
        expect(typeof page[0].seq).toBe('bigint');
        expect(page[0].createdAt).toBeInstanceOf(Date);
        const [stored] = await database.sql<{ created_at: Date; balance_after: string }[]>`
          select created_at, balance_after::text from wallet.ledger_entries where id = ${page[0].id}`;
        expect(page[0].createdAt.getTime()).toBe(stored?.created_at.getTime());
        expect(page[0].balanceAfter).toBe(BigInt(stored?.balance_after ?? -1));
      }
    }
  });

  it('sends concurrent reads as a few statements, not one each', async () => {
    const owners = [];
    for (let index = 0; index < 40; index += 1) owners.push(await userWithEntries(2));
    const before = statements.length;
    await Promise.all(
      owners.map(async (ownerId) => {
        const wallet = await ledger.ensureWallet(ownerId);
        return ledger.listEntries(wallet.id, 10, null);
      }),
    );
    const sent = statements.slice(before);
    // One by one these would be 80 statements: 40 wallets and 40 pages.
    expect(sent.length).toBeLessThanOrEqual(8);
    expect(sent.filter((statement) => statement.includes('cross join lateral')).length).toBeGreaterThanOrEqual(1);
  });

  it('keeps page sizes and cursors apart within one batch', async () => {
    const first = await userWithEntries(12);
    const second = await userWithEntries(5);
    const [a, b] = await Promise.all([ledger.ensureWallet(first), ledger.ensureWallet(second)]);
    if (!a || !b) throw new Error('no wallet');
    const [newest] = await ledger.listEntries(a.id, 1, null);
    if (!newest) throw new Error('no entry');
    const cursor = newest.seq - 3n;
    const [small, fromCursor, other, otherFromCursor, past] = await Promise.all([
      ledger.listEntries(a.id, 2, null),
      ledger.listEntries(a.id, 4, cursor),
      ledger.listEntries(b.id, 10, null),
      ledger.listEntries(b.id, 2, cursor),
      ledger.listEntries(a.id, 4, 1n),
    ]);
    expect(small.map((entry) => entry.id)).toEqual(await pageInTable(a.id, 3, null));
    expect(fromCursor.map((entry) => entry.id)).toEqual(await pageInTable(a.id, 5, cursor));
    expect(fromCursor.every((entry) => entry.seq < cursor)).toBe(true);
    expect(other.map((entry) => entry.id)).toEqual(await pageInTable(b.id, 11, null));
    expect(otherFromCursor.map((entry) => entry.id)).toEqual(await pageInTable(b.id, 3, cursor));
    expect(past).toEqual([]);
    expect(small).toHaveLength(3);
    expect(other).toHaveLength(5);
  });

  it('creates the wallet of an owner who has none, in a batch with owners who have one, once however many ask', async () => {
    const existing = await userWithEntries(1);
    const newcomer = randomUUID();
    const answers = await Promise.all([
      ledger.ensureWallet(existing),
      ledger.ensureWallet(newcomer),
      ledger.ensureWallet(newcomer),
      ledger.ensureWallet(newcomer),
    ]);
    expect(answers[0]?.ownerId).toBe(existing);
    expect(new Set(answers.slice(1).map((wallet) => wallet.id)).size).toBe(1);
    expect(answers[1]?.ownerId).toBe(newcomer);
    expect(answers[1]?.balance).toBe(0n);
    const [count] = await database.sql<{ wallets: number }[]>`select count(*)::int as wallets from wallet.wallets where owner_id = ${newcomer}`;
    expect(count?.wallets).toBe(1);
  });
});
