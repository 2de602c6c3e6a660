// A promotion's slots split over K counter rows (slot shards), against a real PostgreSQL:
// the claim statement sent by many users at once over a real pool of 20 connections, for
// K = 1 (the card's own row), 4 and 16, each way gift-cards claims: claim_slot, one user a
// statement, and claim_slots, a batch of users a statement (its RETRY claimed again alone). Exactly N slots taken, no shard past its share,
// nobody refused USED_UP while a slot remained, each user once; a disabled or expired card
// refused; K chosen by size at issue; the live count through the API; cards issued before
// the shards existed.

import { randomBytes, randomUUID } from 'node:crypto';
import { type Listening, listen } from '@giftpay/common';
import { applyMigrations } from '@giftpay/common/db';
import {
  addressNobodyListensOn,
  type ClaimAnswer,
  type ClaimSlotsRow,
  type ClaimWay,
  claimAllAtOnce,
  claimInBatchesAtOnce,
  claimSlotsOnce,
  claimsWaitingOnALock,
  createEmptyDatabase,
  createTestDatabase,
  errorCodeOf,
  migrationsFolderUpTo,
  slotShardsOf,
  type TestDatabase,
  testEnv,
  testUserId,
  waitUntil,
} from '@giftpay/testing';
import { createServer as createWallet, type WalletServer } from '@giftpay/wallet';
import { loadConfig as loadWalletConfig } from '@giftpay/wallet/config';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { GIFT_CARDS_MIGRATIONS } from '../src/db/migrate.ts';
import * as schema from '../src/db/schema.ts';
import type { SlotShardsSetting } from '../src/domain/slot-shards.ts';
import { createGiftCardsService } from '../src/gift-cards.service.ts';
import { createServer, type GiftCardsServer } from '../src/server.ts';

let database: TestDatabase;
/** The pool the bursts are sent over: as many connections as a busy service opens. */
let pool: postgres.Sql;
let wallet: WalletServer;
let walletListening: Listening;
/** gift-cards with GIFT_CARD_SLOT_SHARDS=4, crediting a real wallet. */
let giftCards: GiftCardsServer;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = postgres(database.url, { max: 20, onnotice: () => {} });
  const env = testEnv(database.url, { ACCOUNTS_URL: await addressNobodyListensOn() });
  wallet = await createWallet({ config: loadWalletConfig(env) });
  walletListening = await listen(wallet.server, 0, '127.0.0.1');
  giftCards = await createServer({ config: loadConfig({ ...env, WALLET_URL: walletListening.url, GIFT_CARD_SLOT_SHARDS: '4' }), startRelay: false });
});

afterAll(async () => {
  await giftCards?.close();
  await walletListening?.close();
  await wallet?.close();
  await pool?.end();
});

/** Issues one card of `usageLimit` slots as gift-cards issues it, under the given GIFT_CARD_SLOT_SHARDS. */
async function issueCard(usageLimit: number, slotShards: SlotShardsSetting): Promise<{ id: string; code: string }> {
  const cards = createGiftCardsService({ db: drizzle(pool, { schema }), codeKey: randomBytes(32).toString('base64url'), defaultCurrency: 'IRR', slotShards });
  const [issued] = await cards.issue({ value: { minor: 100n, currencyCode: 'IRR' }, count: 1, usageLimit, issuedBy: 'slot-shards-test' });
  if (!issued) throw new Error('no card issued');
  return { id: issued.giftCard.id, code: issued.code };
}

async function cardRow(cardId: string): Promise<{ slotShards: number; redemptionCount: number }> {
  const [row] = await database.sql<{ slot_shards: number; redemption_count: number }[]>`
    select slot_shards, redemption_count from gift_cards.gift_cards where id = ${cardId}`;
  return { slotShards: row?.slot_shards ?? Number.NaN, redemptionCount: row?.redemption_count ?? Number.NaN };
}

async function redeemersOf(cardId: string): Promise<string[]> {
  const rows = await database.sql<{ user_id: string }[]>`select user_id from gift_cards.redemptions where gift_card_id = ${cardId} order by user_id`;
  return rows.map((row) => row.user_id);
}

const usersNamed = (prefix: string, count: number) => Array.from({ length: count }, () => testUserId(prefix));
const countOf = (outcomes: readonly { outcome: string }[], outcome: string) => outcomes.filter((answer) => answer.outcome === outcome).length;

/** The slots taken, read as the API reads them, and the shards: never past a share, adding up to the card's slots. */
async function expectSlotsTaken(card: { id: string }, shards: number, slots: number, taken: number): Promise<void> {
  const rows = await slotShardsOf(database.sql, card.id);
  const row = await cardRow(card.id);
  expect(row.slotShards).toBe(shards);
  if (shards === 1) {
    expect(rows).toEqual([]);
    expect(row.redemptionCount).toBe(taken);
  } else {
    expect(rows.map((shard) => shard.shard)).toEqual(Array.from({ length: shards }, (_, index) => index));
    expect(rows.reduce((sum, shard) => sum + shard.capacity, 0)).toBe(slots);
    expect(rows.every((shard) => shard.used >= 0 && shard.used <= shard.capacity)).toBe(true);
    expect(rows.reduce((sum, shard) => sum + shard.used, 0)).toBe(taken);
    // Not written per claim: the claims count in the shards.
    expect(row.redemptionCount).toBe(0);
  }
  expect((await giftCards.cards.findById(card.id))?.redemptionCount).toBe(taken);
}

/** Each way gift-cards claims, with how many statements a burst of `users` claims sends. */
const BATCH = 7;
const WAYS: readonly { way: string; claim: ClaimWay; statements: (users: number) => number }[] = [
  { way: 'one claim_slot per user', claim: claimAllAtOnce, statements: (users) => users },
  {
    way: `claim_slots in batches of ${BATCH}`,
    claim: (sql, cardId, users) => claimInBatchesAtOnce(sql, cardId, users, BATCH),
    statements: (users) => Math.ceil(users / BATCH),
  },
];

describe.each(WAYS.flatMap((way) => [1, 4, 16].map((shards) => ({ ...way, shards }))))(
  'a promotion split over $shards slot shard(s), $way',
  ({ shards, claim, statements }) => {
    it('gives a slot to every one of N distinct users claiming N slots at once, refusing nobody while a slot remains', async () => {
      const slots = 100;
      const card = await issueCard(slots, shards);
      const users = usersNamed('exact', slots);

      const answers = await claim(pool, card.id, users);

      expect(answers.filter((answer) => answer.outcome !== 'CLAIMED')).toEqual([]);
      expect(Math.max(...answers.map((answer) => answer.redemptionCount ?? 0))).toBeLessThanOrEqual(slots);
      await expectSlotsTaken(card, shards, slots, slots);
      expect(await redeemersOf(card.id)).toEqual([...users].sort());
    });

    it('hands out exactly N slots to more users than slots claiming at once and refuses every other one with USED_UP', async () => {
      const slots = 60;
      const card = await issueCard(slots, shards);
      const users = usersNamed('crowd', 150);

      const answers = await claim(pool, card.id, users);

      expect(countOf(answers, 'CLAIMED')).toBe(slots);
      expect(countOf(answers, 'USED_UP')).toBe(users.length - slots);
      await expectSlotsTaken(card, shards, slots, slots);
      expect(await redeemersOf(card.id)).toEqual(
        answers
          .filter((answer) => answer.outcome === 'CLAIMED')
          .map((answer) => answer.userId)
          .sort(),
      );
      // After the last slot, a newcomer is refused and a winner hears ALREADY_REDEEMED.
      const [late] = await claim(pool, card.id, [testUserId('late')]);
      const winner = answers.find((answer) => answer.outcome === 'CLAIMED')?.userId ?? '';
      const [again] = await claim(pool, card.id, [winner]);
      expect([late?.outcome, again?.outcome]).toEqual(['USED_UP', 'ALREADY_REDEEMED']);
    });

    it('makes claims wait for the last slots while another transaction holds them, and refuses only those left over once every slot is taken', async () => {
      const slots = 32;
      const card = await issueCard(slots, shards);
      expect(countOf(await claim(pool, card.id, usersNamed('first', 28)), 'CLAIMED')).toBe(28);
      const late = usersNamed('held', 6);
      let answers: Promise<ClaimAnswer[]> = Promise.resolve([]);
      await database.sql.begin(async (tx) => {
        // Hold every row that still has a slot: the card's own (K = 1), or its shards with room.
        if (shards === 1) await tx`select id from gift_cards.gift_cards where id = ${card.id} for update`;
        else await tx`select shard from gift_cards.card_slot_shards where card_id = ${card.id} and used < capacity for update`;
        answers = claim(pool, card.id, late);
        // Every late claim must wait for them: one that found them held and gave up would be answered already.
        await waitUntil(`${late.length} claims waiting on a lock`, async () => (await claimsWaitingOnALock(database.sql)) === statements(late.length) || null);
      });
      const settled = await answers;
      expect(countOf(settled, 'CLAIMED')).toBe(4);
      expect(countOf(settled, 'USED_UP')).toBe(2);
      await expectSlotsTaken(card, shards, slots, slots);
    });

    it('lets each user take at most one slot when every user claims three times at once', async () => {
      const slots = 20;
      const card = await issueCard(slots, shards);
      const users = usersNamed('repeat', 30);

      const answers = await claim(pool, card.id, [...users, ...users, ...users]);

      const byUser = new Map(users.map((user) => [user, answers.filter((answer) => answer.userId === user).map((answer) => answer.outcome)]));
      const winners = users.filter((user) => byUser.get(user)?.includes('CLAIMED'));
      expect(winners).toHaveLength(slots);
      for (const [user, outcomes] of byUser) {
        // A winner: one slot, and ALREADY_REDEEMED for the repeats; anyone else: refused every time.
        if (winners.includes(user)) expect([...outcomes].sort()).toEqual(['ALREADY_REDEEMED', 'ALREADY_REDEEMED', 'CLAIMED']);
        else expect(outcomes).toEqual(['USED_UP', 'USED_UP', 'USED_UP']);
      }
      await expectSlotsTaken(card, shards, slots, slots);
      expect(await redeemersOf(card.id)).toEqual([...winners].sort());
    });

    it('refuses a disabled card and an expired one without taking a slot, and still tells an earlier winner ALREADY_REDEEMED', async () => {
      const disabled = await issueCard(32, shards);
      const [early] = usersNamed('early', 1);
      expect((await claim(pool, disabled.id, [early as string]))[0]?.outcome).toBe('CLAIMED');
      await giftCards.cards.disable(disabled.id, { actorId: 'test-admin' });
      const answers = await claim(pool, disabled.id, [...usersNamed('after-disable', 10), early as string]);
      expect(answers.map((answer) => answer.outcome)).toEqual([...Array.from({ length: 10 }, () => 'DISABLED'), 'ALREADY_REDEEMED']);
      await expectSlotsTaken(disabled, shards, 32, 1);

      const expired = await issueCard(32, shards);
      await database.sql`update gift_cards.gift_cards set expires_at = now() - interval '1 second' where id = ${expired.id}`;
      expect((await claim(pool, expired.id, usersNamed('after-expiry', 10))).map((answer) => answer.outcome)).toEqual(
        Array.from({ length: 10 }, () => 'EXPIRED'),
      );
      await expectSlotsTaken(expired, shards, 32, 0);
      expect(await redeemersOf(expired.id)).toEqual([]);
    });
  },
);

/** claim_slots sent straight, one batch: its rows, one per place. */
const claimSlots = (cardId: string, users: readonly string[]) => claimSlotsOnce(pool, cardId, users);

describe.each([1, 4])('claim_slots, a batch of users in one statement, %i slot shard(s)', (shards) => {
  it('answers every place in the batch’s order: the first newcomers take the slots left, a repeat and an earlier winner hear ALREADY_REDEEMED, the rest USED_UP', async () => {
    const card = await issueCard(5, shards);
    const [early, a, b, c, d, e] = usersNamed('order', 6) as [string, string, string, string, string, string];
    expect((await claimSlots(card.id, [early]))[0]).toMatchObject({ outcome: 'CLAIMED', redemption_count: 1 });
    const before = usersNamed('before', 1);
    expect((await claimAllAtOnce(pool, card.id, before))[0]?.outcome).toBe('CLAIMED');

    const rows = await claimSlots(card.id, [a, early, b, a, c, d, e]);

    expect(rows.map((row) => [row.ord, row.outcome, row.redemption_count])).toEqual([
      [1, 'CLAIMED', 3],
      [2, 'ALREADY_REDEEMED', null],
      [3, 'CLAIMED', 4],
      [4, 'ALREADY_REDEEMED', null],
      [5, 'CLAIMED', 5],
      [6, 'USED_UP', null],
      [7, 'USED_UP', null],
    ]);
    await expectSlotsTaken(card, shards, 5, 5);
    // The users left without a slot have no redemption row: theirs was taken back.
    expect(await redeemersOf(card.id)).toEqual([early, ...before, a, b, c].sort());
  });

  it('refuses a whole batch on a disabled card, an expired one and an unknown one without writing, and tells an earlier winner ALREADY_REDEEMED', async () => {
    const card = await issueCard(10, shards);
    const [winner] = usersNamed('winner', 1) as [string];
    expect((await claimSlots(card.id, [winner]))[0]?.outcome).toBe('CLAIMED');
    await giftCards.cards.disable(card.id, { actorId: 'test-admin' });
    expect((await claimSlots(card.id, [...usersNamed('off', 3), winner])).map((row) => row.outcome)).toEqual([
      'DISABLED',
      'DISABLED',
      'DISABLED',
      'ALREADY_REDEEMED',
    ]);
    await database.sql`update gift_cards.gift_cards set disabled_at = null, expires_at = now() - interval '1 second' where id = ${card.id}`;
    expect((await claimSlots(card.id, [...usersNamed('late', 2), winner])).map((row) => row.outcome)).toEqual(['EXPIRED', 'EXPIRED', 'ALREADY_REDEEMED']);
    await expectSlotsTaken(card, shards, 10, 1);
    expect(await redeemersOf(card.id)).toEqual([winner]);
    expect((await claimSlots(randomUUID(), usersNamed('nobody', 2))).map((row) => row.outcome)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
  });
});

describe('claim_slots on a sharded card whose last shards other claims hold', () => {
  it('answers RETRY for the users it has no slot for once it holds a shard (it may not wait then), and claim_slot gives them the slots when the holder lets go', async () => {
    const card = await issueCard(4, 2);
    const users = usersNamed('retry', 3);
    let rows: ClaimSlotsRow[] = [];
    await database.sql.begin(async (tx) => {
      await tx`select shard from gift_cards.card_slot_shards where card_id = ${card.id} and shard = 1 for update`;
      rows = await claimSlots(card.id, users);
    });
    // Shard 0's two slots went to the first two; shard 1 was held, so the third may not wait for it.
    expect(rows.map((row) => row.outcome)).toEqual(['CLAIMED', 'CLAIMED', 'RETRY']);
    expect(await redeemersOf(card.id)).toEqual(users.slice(0, 2).sort());
    const [retried] = await claimAllAtOnce(pool, card.id, [users[2] as string]);
    expect(retried?.outcome).toBe('CLAIMED');
    await expectSlotsTaken(card, 2, 4, 3);
  });
});

describe.each([1, 4, 16])('claim_slots batches and claim_slot at once, %i slot shard(s)', (shards) => {
  it('hands out exactly N slots, one per user, to users who each claim twice at once (in a batch and alone), with no claim failing', async () => {
    const slots = 90;
    const card = await issueCard(slots, shards);
    const users = usersNamed('mixed', 200);
    // Each user in one of the batches and alone, the two sent in opposite orders, so batches
    // and single claims collide on the same users from both sides.
    const [batched, alone] = await Promise.all([claimInBatchesAtOnce(pool, card.id, users, 9), claimAllAtOnce(pool, card.id, [...users].reverse())]);

    const answers = [...batched, ...alone];
    expect(answers.filter((answer) => !['CLAIMED', 'ALREADY_REDEEMED', 'USED_UP'].includes(answer.outcome))).toEqual([]);
    const winners = answers.filter((answer) => answer.outcome === 'CLAIMED').map((answer) => answer.userId);
    expect(winners).toHaveLength(slots);
    expect(new Set(winners).size).toBe(slots);
    // A user refused USED_UP in one claim won nothing in the other.
    const losers = new Set(answers.filter((answer) => answer.outcome === 'USED_UP').map((answer) => answer.userId));
    expect(winners.filter((winner) => losers.has(winner))).toEqual([]);
    await expectSlotsTaken(card, shards, slots, slots);
    expect(await redeemersOf(card.id)).toEqual([...winners].sort());
  });
});

describe('choosing K at issue', () => {
  it('splits a card by its size under auto: its own row below 1,000 slots, 4 shards from 1,000 and 16 from 10,000, the shares adding up to its slots', async () => {
    const expected: [number, number][] = [
      [1, 1],
      [999, 1],
      [1000, 4],
      [9999, 4],
      [10_000, 16],
      [10_007, 16],
    ];
    for (const [slots, shards] of expected) {
      const card = await issueCard(slots, 'auto');
      const rows = await slotShardsOf(database.sql, card.id);
      expect({ slots, shards: (await cardRow(card.id)).slotShards }).toEqual({ slots, shards });
      expect(rows).toHaveLength(shards === 1 ? 0 : shards);
      if (shards > 1) {
        expect(rows.reduce((sum, row) => sum + row.capacity, 0)).toBe(slots);
        const capacities = rows.map((row) => row.capacity);
        expect(Math.max(...capacities) - Math.min(...capacities)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('splits every card of a bulk issue into the fixed number of shards configured, never into more shards than slots', async () => {
    const cards = createGiftCardsService({
      db: drizzle(pool, { schema }),
      codeKey: randomBytes(32).toString('base64url'),
      defaultCurrency: 'IRR',
      slotShards: 8,
    });
    const issued = await cards.issue({ value: { minor: 5n, currencyCode: 'IRR' }, count: 3, usageLimit: 20, issuedBy: 'slot-shards-test' });
    for (const { giftCard } of issued) {
      expect(giftCard.slotShards).toBe(8);
      expect((await slotShardsOf(database.sql, giftCard.id)).map((row) => row.capacity)).toEqual([3, 3, 3, 3, 2, 2, 2, 2]);
    }
    const small = await cards.issue({ value: { minor: 5n, currencyCode: 'IRR' }, count: 1, usageLimit: 5, issuedBy: 'slot-shards-test' });
    expect((await slotShardsOf(database.sql, small[0]?.giftCard.id ?? '')).map((row) => row.capacity)).toEqual([1, 1, 1, 1, 1]);
  });
});

describe('the redemption count through the service', () => {
  it('shows the live count and USED_UP of a sharded card on activation, by id, in the list and in a user’s redemptions', async () => {
    const [issued] = await giftCards.cards.issue({ value: { minor: 70n, currencyCode: 'IRR' }, count: 1, usageLimit: 8, issuedBy: 'slot-shards-test' });
    const card = { id: issued?.giftCard.id ?? '', code: issued?.code ?? '' };
    expect(issued?.giftCard.slotShards).toBe(4);
    const users = usersNamed('api', 8);

    const activations = await Promise.all(users.map((user) => giftCards.redemptions.activate(user, card.code)));

    // Claimed, each by its user (the credit itself may still be owed on a loaded machine: not this test's concern).
    expect(activations.map((activation) => activation.redemption.userId)).toEqual(users);
    for (const { giftCard } of activations) expect(giftCard.redemptionCount).toBeGreaterThanOrEqual(1);
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('api-late'), card.code))).toBe('GIFT_CARD_USED_UP');
    const byId = await giftCards.cards.findById(card.id);
    expect({ count: byId?.redemptionCount, limit: byId?.usageLimit }).toEqual({ count: 8, limit: 8 });
    const listed = (await giftCards.cards.list(100, null)).find((row) => row.id === card.id);
    expect(listed?.redemptionCount).toBe(8);
    const [mine] = await giftCards.cards.redemptionsOf(users[0] as string, 10, null);
    expect({ card: mine?.giftCard.id, count: mine?.giftCard.redemptionCount }).toEqual({ card: card.id, count: 8 });
    expect((await giftCards.cards.disable(card.id, { actorId: 'test-admin' })).redemptionCount).toBe(8);
    // The card's own row was not written by the claims.
    expect((await cardRow(card.id)).redemptionCount).toBe(0);
  });
});

describe('cards issued before the slot shards', () => {
  it('keeps counting a card issued before the migration on its own row, from where it stood, to exactly its limit', async () => {
    const empty = await createEmptyDatabase();
    const before = await migrationsFolderUpTo(GIFT_CARDS_MIGRATIONS.migrationsFolder, '0003_park_refused_credits');
    await applyMigrations(empty.url, { ...GIFT_CARDS_MIGRATIONS, migrationsFolder: before });
    const [card] = await empty.sql<{ id: string }[]>`
      insert into gift_cards.gift_cards (code_hash, last4, value_amount, currency_code, usage_limit, redemption_count, created_by)
      values (${randomUUID()}, 'OLD1', 10, 'IRR', 5, 2, 'before') returning id`;
    const cardId = card?.id ?? '';
    await empty.sql`insert into gift_cards.redemptions (gift_card_id, user_id, amount, currency_code, status)
      values (${cardId}, 'old-winner-1', 10, 'IRR', 'CREDITED'), (${cardId}, 'old-winner-2', 10, 'IRR', 'CREDITED')`;

    await applyMigrations(empty.url, GIFT_CARDS_MIGRATIONS);

    const [migrated] = await empty.sql<{ slot_shards: number }[]>`select slot_shards from gift_cards.gift_cards where id = ${cardId}`;
    expect(migrated?.slot_shards).toBe(1);
    const claims = postgres(empty.url, { max: 10, onnotice: () => {} });
    try {
      const answers = await claimAllAtOnce(claims, cardId, ['old-winner-1', ...usersNamed('after-migration', 6)]);
      expect(answers[0]?.outcome).toBe('ALREADY_REDEEMED');
      expect(countOf(answers, 'CLAIMED')).toBe(3);
      expect(countOf(answers, 'USED_UP')).toBe(3);
    } finally {
      await claims.end();
    }
    const [after] = await empty.sql<{ redemption_count: number; rows: number }[]>`
      select redemption_count, (select count(*)::int from gift_cards.redemptions where gift_card_id = ${cardId}) as rows
      from gift_cards.gift_cards where id = ${cardId}`;
    expect(after).toEqual({ redemption_count: 5, rows: 5 });
  });
});
