// Helpers for the tests of a card's slots split over counter rows (slot shards): the claim
// statement sent straight to PostgreSQL by many users at once over a real pool, the shards
// of a card, and a database that has only part of a subgraph's migrations.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type postgres from 'postgres';
import { afterAll } from 'vitest';
import { createDatabase, type TestDatabase } from './database.ts';

export interface SlotShard {
  readonly shard: number;
  readonly capacity: number;
  readonly used: number;
}

export async function slotShardsOf(sql: postgres.Sql, cardId: string): Promise<SlotShard[]> {
  return sql<SlotShard[]>`select shard, capacity, used from gift_cards.card_slot_shards where card_id = ${cardId} order by shard`;
}

export interface ClaimAnswer {
  readonly userId: string;
  readonly outcome: string;
  readonly redemptionCount: number | null;
  /** Answered RETRY by claim_slots first, then claimed through claim_slot (as gift-cards does). */
  readonly retried?: boolean;
}

/** The two ways gift-cards claims: one claim_slot per user, or claim_slots per batch of users. */
export type ClaimWay = (sql: postgres.Sql, cardId: string, userIds: readonly string[]) => Promise<ClaimAnswer[]>;

/**
 * Sends `gift_cards.claim_slot` for every user at once over `sql` (its pool bounds how many
 * run together), as gift-cards sends it; the answers come back in the users' order.
 */
export async function claimAllAtOnce(sql: postgres.Sql, cardId: string, userIds: readonly string[]): Promise<ClaimAnswer[]> {
  return Promise.all(
    userIds.map(async (userId) => {
      const [row] = await sql<{ outcome: string; redemption_count: number | null }[]>`
        select outcome, redemption_count from gift_cards.claim_slot(${cardId}::uuid, ${userId}, 30000)`;
      return { userId, outcome: row?.outcome ?? 'NO_ROW', redemptionCount: row?.redemption_count ?? null };
    }),
  );
}

export interface ClaimSlotsRow {
  readonly ord: number;
  readonly outcome: string;
  readonly redemption_count: number | null;
}

/** One call of `gift_cards.claim_slots` for a batch of users: its rows, one per place (RETRY left as it is). */
export async function claimSlotsOnce(sql: postgres.Sql, cardId: string, userIds: readonly string[]): Promise<ClaimSlotsRow[]> {
  return [
    ...(await sql<ClaimSlotsRow[]>`select ord, outcome, redemption_count from gift_cards.claim_slots(${cardId}::uuid, ${userIds as string[]}::text[], 30000)`),
  ];
}

/**
 * Sends `gift_cards.claim_slots` for the users in batches of `batchSize` (in the users'
 * order), every batch at once over `sql`, as gift-cards sends a batch; a user answered RETRY
 * is claimed again through claim_slot, as gift-cards does. The answers come back in the
 * users' order.
 */
export async function claimInBatchesAtOnce(sql: postgres.Sql, cardId: string, userIds: readonly string[], batchSize: number): Promise<ClaimAnswer[]> {
  const batches: string[][] = [];
  for (let start = 0; start < userIds.length; start += batchSize) batches.push(userIds.slice(start, start + batchSize));
  const answered = await Promise.all(
    batches.map(async (batch) => {
      const rows = await claimSlotsOnce(sql, cardId, batch);
      if (rows.map((row) => row.ord).join() !== batch.map((_, index) => index + 1).join())
        throw new Error(`claim_slots answered ${rows.length} rows out of order`);
      return Promise.all(
        batch.map(async (userId, index) => {
          const row = rows[index];
          if (row?.outcome !== 'RETRY') return { userId, outcome: row?.outcome ?? 'NO_ROW', redemptionCount: row?.redemption_count ?? null };
          const [alone] = await claimAllAtOnce(sql, cardId, [userId]);
          return { ...(alone as ClaimAnswer), retried: true };
        }),
      );
    }),
  );
  return answered.flat();
}

/** A database of the test run's server with nothing in it, dropped when the file is done. */
export function createEmptyDatabase(): Promise<TestDatabase> {
  return createDatabase({ fromTemplate: false });
}

/**
 * A copy of a drizzle-kit migrations folder that ends with the migration `lastTag`, as the
 * folder stood when that migration was the newest; removed when the file is done.
 */
export async function migrationsFolderUpTo(folder: string, lastTag: string): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'giftpay-migrations-'));
  afterAll(() => rm(copy, { recursive: true, force: true }));
  await cp(folder, copy, { recursive: true });
  const journalFile = join(copy, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  if (last < 0) throw new Error(`no migration ${lastTag} in ${folder}`);
  await writeFile(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
  return copy;
}

/** Claim statements (claim_slot, claim_slots) of this database waiting on a lock (a row held by another transaction or claim). */
export async function claimsWaitingOnALock(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock' and query ~ 'gift_cards[.]claim_slots?[(]'`;
  return row?.n ?? 0;
}
