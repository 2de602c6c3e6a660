// A query that fails after some of its rows have arrived (a statement timeout, a deadlock in
// the middle of a batch of credits, an expression error on one row) must not leak into the
// next query on the same connection. postgres.js 3.4.9 unpatched left its row counter where
// the failed query stopped, and the next query resolved with that many holes before its rows
// (upstream issues #1119, #1181): a batch of credits read `undefined` where a result was.
// patches/postgres@3.4.9.patch resets the counter once the failed query is done.

import { createTestDatabase } from '@giftpay/testing';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';

describe('a query after one that failed part-way through its rows, on the same connection', () => {
  it('resolves with exactly its own rows', async () => {
    const database = await createTestDatabase();
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      // Three rows arrive, then the fourth divides by zero.
      const failed = sql`select i, 1 / (4 - i) as boom from generate_series(1, 10) as i`.then(
        () => null,
        (error: unknown) => error as Error,
      );
      // Sent behind it on the one connection, and again once the failure is settled.
      const behind = sql<{ x: number }[]>`select x from generate_series(1, 5) as x`;
      expect((await failed)?.message).toMatch(/division by zero/);
      for (const rows of [await behind, await sql<{ x: number }[]>`select x from generate_series(1, 5) as x`]) {
        expect(rows).toHaveLength(5);
        expect([...rows].map((row) => row?.x)).toEqual([1, 2, 3, 4, 5]);
      }
    } finally {
      await sql.end();
    }
  });
});
