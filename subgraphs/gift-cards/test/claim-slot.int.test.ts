// The claim's refusals decided inside the claim itself, against a real PostgreSQL: a card
// disabled, or expired, while a burst of claims is already past the application's check
// (batches of them waiting inside claim_slots on the card's row, the rest gathering behind
// them). Those claims must all be refused, leave no redemption behind, and the count must
// stay at the claims made before. And a batch PostgreSQL rolls back is made claim by claim.

import { type Listening, listen } from '@giftpay/common';
import {
  claimsWaitingOnALock,
  createTestDatabase,
  errorCodeOf,
  installTestTrigger,
  ledgerCreditsOf,
  outboxRowsOf,
  seriesValue,
  startWalletBehindLink,
  type TestDatabase,
  testUserId,
  type WalletBehindLink,
  waitUntil,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GiftCardsServer } from '../src/server.ts';

let database: TestDatabase;
let rig: WalletBehindLink;
let giftCards: GiftCardsServer;
let giftCardsListening: Listening;

beforeAll(async () => {
  database = await createTestDatabase();
  rig = await startWalletBehindLink(database.url);
  // Room in the pool for every claim of the burst to wait inside claim_slot at once, and a
  // lock wait longer than a loaded machine needs to line them all up.
  giftCards = await rig.startGiftCards({ DB_POOL_MAX: '30', DB_LOCK_TIMEOUT_MS: '60000' });
  giftCardsListening = await listen(giftCards.server, 0, '127.0.0.1');
});

/** A sample of a gift-cards server's /metrics (by its name and labels), 0 when absent. */
async function metric(name: string, labels: Record<string, string> = {}, url = giftCardsListening.url): Promise<number> {
  return seriesValue(await (await fetch(`${url}/metrics`)).text(), name, labels) ?? 0;
}

afterAll(async () => {
  await giftCardsListening?.close();
  await giftCards?.close();
  await rig?.close();
});

/**
 * Makes `early` claims one by one, then changes the card in a transaction that holds its row
 * while `late` users claim at once; commits only when every late claim is past the
 * application's status check (in a batch of claims waiting inside claim_slots on the card's
 * row, or gathering behind those batches). Returns the late claims' outcomes.
 */
async function burstAgainstAChange(card: { code: string; id: string }, early: readonly string[], late: readonly string[], change: string) {
  for (const user of early) expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('CREDITED');
  let outcomes: Promise<(string | null)[]> = Promise.resolve([]);
  await database.sql.begin(async (tx) => {
    await tx.unsafe(`update gift_cards.gift_cards set ${change} where id = $1`, [card.id]);
    outcomes = Promise.all(late.map((user) => errorCodeOf(giftCards.redemptions.activate(user, card.code))));
    await waitUntil(
      `${late.length} claims underway, a batch of them waiting on the card's row`,
      async () => giftCards.redemptions.claimsUnderway() === late.length && (await claimsWaitingOnALock(database.sql)) >= 1,
    );
  });
  return outcomes;
}

async function expectOnlyEarlyClaims(card: { id: string }, early: readonly string[], late: readonly string[], amount: bigint): Promise<void> {
  const [row] = await database.sql`select redemption_count, usage_limit from gift_cards.gift_cards where id = ${card.id}`;
  expect(row?.redemption_count).toBe(early.length);
  expect(row?.redemption_count).toBeLessThanOrEqual(row?.usage_limit);
  // The refused claims took back the redemption rows they had written.
  expect((await outboxRowsOf(database.sql, card.id)).map((redemption) => redemption.userId).sort()).toEqual([...early].sort());
  expect(await ledgerCreditsOf(database.sql, [...early, ...late])).toMatchObject({
    credits: early.length,
    total: amount * BigInt(early.length),
    owners: early.length,
    mostPerOwner: 1,
  });
}

describe('the claim inside PostgreSQL', () => {
  it('refuses with GIFT_CARD_DISABLED every claim of a burst still waiting when an admin disables the card, keeping the claims made before', async () => {
    const [issued] = await giftCards.cards.issue({ value: { minor: 60n, currencyCode: 'IRR' }, count: 1, usageLimit: 10, issuedBy: 'claim-slot-test' });
    const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    const early = Array.from({ length: 3 }, () => testUserId('early'));
    const late = Array.from({ length: 12 }, () => testUserId('late'));

    const outcomes = await burstAgainstAChange(card, early, late, 'disabled_at = now()');
    expect(outcomes).toEqual(late.map(() => 'GIFT_CARD_DISABLED'));
    await expectOnlyEarlyClaims(card, early, late, 60n);
    expect((await giftCards.cards.findById(card.id))?.disabledAt).not.toBeNull();
  });

  it('refuses with GIFT_CARD_EXPIRED every claim of a burst still waiting when the card expires, keeping the claims made before', async () => {
    const [issued] = await giftCards.cards.issue({
      value: { minor: 45n, currencyCode: 'IRR' },
      count: 1,
      usageLimit: 10,
      expiresAt: new Date(Date.now() + 3_600_000),
      issuedBy: 'claim-slot-test',
    });
    const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    const early = Array.from({ length: 2 }, () => testUserId('early'));
    const late = Array.from({ length: 8 }, () => testUserId('late'));

    // The expiry is the changing transaction's start: before any of the late claims began.
    const outcomes = await burstAgainstAChange(card, early, late, 'expires_at = now()');
    expect(outcomes).toEqual(late.map(() => 'GIFT_CARD_EXPIRED'));
    await expectOnlyEarlyClaims(card, early, late, 45n);
  });

  it('still hands out the last slots exactly when a burst waits on a card that is neither disabled nor expired', async () => {
    // The control for the two above: the same wait, with a change that refuses nobody.
    const [issued] = await giftCards.cards.issue({ value: { minor: 15n, currencyCode: 'IRR' }, count: 1, usageLimit: 6, issuedBy: 'claim-slot-test' });
    const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    const early = Array.from({ length: 2 }, () => testUserId('early'));
    const late = Array.from({ length: 8 }, () => testUserId('late'));

    const outcomes = await burstAgainstAChange(card, early, late, 'created_by = created_by');
    expect(outcomes.filter((outcome) => outcome === null)).toHaveLength(4);
    expect(outcomes.filter((outcome) => outcome === 'GIFT_CARD_USED_UP')).toHaveLength(4);
    const [row] = await database.sql`select redemption_count from gift_cards.gift_cards where id = ${card.id}`;
    expect(row?.redemption_count).toBe(6);
    expect(await ledgerCreditsOf(database.sql, [...early, ...late])).toMatchObject({ credits: 6, total: 90n, owners: 6, mostPerOwner: 1 });
  });
});

describe('claims in batches', () => {
  it('makes each claim of a batch alone when PostgreSQL rolls the batch back as a deadlock, so every user still gets a slot', async () => {
    const [issued] = await giftCards.cards.issue({ value: { minor: 25n, currencyCode: 'IRR' }, count: 1, usageLimit: 10, issuedBy: 'claim-slot-test' });
    const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    const unlucky = testUserId('unlucky');
    const others = Array.from({ length: 5 }, () => testUserId('batch-mate'));
    // A batch naming `unlucky` fails as PostgreSQL fails a deadlock's victim; claim_slot does not.
    const fault = await installTestTrigger(
      database.sql,
      'gift_cards.redemptions',
      'before insert',
      `if new.user_id = '${unlucky}' and current_query() like '%claim_slots(%' then
         raise exception 'deadlock detected (test)' using errcode = 'deadlock_detected';
       end if;
       return new;`,
    );
    try {
      const users = [unlucky, ...others];
      const rolledBackBefore = await metric('giftcard_claims_alone_total', { reason: 'rolled_back' });
      const batchesBefore = await metric('giftcard_claim_batch_size_count');
      const activations = await Promise.all(users.map((user) => giftCards.redemptions.activate(user, card.code)));
      expect(activations.map((activation) => activation.redemption.userId)).toEqual(users);
      await expectOnlyEarlyClaims(card, users, [], 25n);
      // The batch that named `unlucky` (at least it) was made again claim by claim, and counted.
      expect(await metric('giftcard_claims_alone_total', { reason: 'rolled_back' })).toBeGreaterThan(rolledBackBefore);
      expect(await metric('giftcard_claim_batch_size_count')).toBeGreaterThan(batchesBefore);
    } finally {
      await fault.remove();
    }
  });
});

describe('one user twice in a batch', () => {
  it('is answered as two claims one after the other: ALREADY_REDEEMED only beside the user’s own slot, USED_UP twice for a user left without one', async () => {
    const [issued] = await giftCards.cards.issue({ value: { minor: 20n, currencyCode: 'IRR' }, count: 1, usageLimit: 3, issuedBy: 'claim-slot-test' });
    const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    // Ten users each double-clicking: each pair arrives together, so most pairs leave in one batch.
    const users = Array.from({ length: 10 }, () => testUserId('double'));
    const outcomes = await Promise.all(users.flatMap((user) => [user, user]).map((user) => errorCodeOf(giftCards.redemptions.activate(user, card.code))));
    const holders = (await outboxRowsOf(database.sql, card.id)).map((row) => row.userId);
    expect(holders).toHaveLength(3);
    const answers = users.map((_user, index) => [outcomes[2 * index], outcomes[2 * index + 1]].sort());
    expect(answers).toEqual(
      users.map((user) => (holders.includes(user) ? ['GIFT_CARD_ALREADY_REDEEMED', null].sort() : ['GIFT_CARD_USED_UP', 'GIFT_CARD_USED_UP'])),
    );
    await expectOnlyEarlyClaims(
      card,
      holders,
      users.filter((user) => !holders.includes(user)),
      20n,
    );
  });
});

describe('claims made alone after their batch was rolled back', () => {
  it('answer each on its own: the one claim that then fails fails alone, and its batch-mates keep their slots', async () => {
    const [issued] = await giftCards.cards.issue({ value: { minor: 30n, currencyCode: 'IRR' }, count: 1, usageLimit: 10, issuedBy: 'claim-slot-test' });
    const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    const broken = testUserId('broken');
    const others = Array.from({ length: 7 }, () => testUserId('batch-mate'));
    // Every batch fails as a deadlock's victim does, so every claim is made alone; made alone,
    // `broken`'s claim fails with an error nobody retries.
    const fault = await installTestTrigger(
      database.sql,
      'gift_cards.redemptions',
      'before insert',
      `if current_query() like '%claim_slots(%' then
         raise exception 'deadlock detected (test)' using errcode = 'deadlock_detected';
       end if;
       if new.user_id = '${broken}' then
         raise exception 'this claim fails (test)' using errcode = 'XX000';
       end if;
       return new;`,
    );
    try {
      // `broken` last, so that it gathers into a batch with others (the first claims leave at once).
      const users = [...others, broken];
      const outcomes = await Promise.all(users.map((user) => errorCodeOf(giftCards.redemptions.activate(user, card.code))));
      expect(outcomes.slice(0, -1)).toEqual(others.map(() => null));
      // Its own claim, made alone, failed (drizzle's error names the query).
      expect(outcomes.at(-1)).toMatch(/Failed query: select outcome, redemption_id, redemption_count from gift_cards\.claim_slot\(/);
      await expectOnlyEarlyClaims(card, others, [broken], 30n);
    } finally {
      await fault.remove();
    }
  });
});

describe('claims of different cards', () => {
  it('are not held back by the batches of a card whose row an admin holds', async () => {
    const issue = async () => {
      const [issued] = await giftCards.cards.issue({ value: { minor: 35n, currencyCode: 'IRR' }, count: 1, usageLimit: 10, issuedBy: 'claim-slot-test' });
      return { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
    };
    const held = await issue();
    const free = await issue();
    const waiting = Array.from({ length: 6 }, () => testUserId('held'));
    let outcomes: Promise<(string | null)[]> = Promise.resolve([]);
    await database.sql.begin(async (tx) => {
      await tx`select id from gift_cards.gift_cards where id = ${held.id} for update`;
      // Claims of the held card, in several turns, so that as many of its batches as may be
      // on their way are, all waiting on its row.
      const started: Promise<string | null>[] = [];
      for (const user of waiting) {
        started.push(errorCodeOf(giftCards.redemptions.activate(user, held.code)));
        await new Promise((done) => setImmediate(done));
      }
      outcomes = Promise.all(started);
      await waitUntil(
        'the held card’s claims underway and waiting on its row',
        async () => giftCards.redemptions.claimsUnderway() === waiting.length && (await claimsWaitingOnALock(database.sql)) >= 1,
      );
      // Another card's claim goes through while the held card's batches wait.
      const other = await Promise.race([
        giftCards.redemptions.activate(testUserId('free'), free.code),
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error('a claim of another card was held back behind the held card')), 10_000)),
      ]);
      expect(other.redemption.status).toBe('CREDITED');
    });
    expect(await outcomes).toEqual(waiting.map(() => null));
  });
});

describe('a batch left without a slot while other claims hold the last shards', () => {
  it('claims those users alone through claim_slot (counted as held), which waits for the shards, and every user gets a slot', async () => {
    const sharded = await rig.startGiftCards({ DB_POOL_MAX: '20', DB_LOCK_TIMEOUT_MS: '60000', GIFT_CARD_SLOT_SHARDS: '2' });
    const shardedListening = await listen(sharded.server, 0, '127.0.0.1');
    const heldCount = () => metric('giftcard_claims_alone_total', { reason: 'held' }, shardedListening.url);
    const cardRow = await database.sql.reserve();
    const lastShard = await database.sql.reserve();
    try {
      // Five slots over two shards: 3 in shard 0, 2 in shard 1.
      const [issued] = await sharded.cards.issue({ value: { minor: 55n, currencyCode: 'IRR' }, count: 1, usageLimit: 5, issuedBy: 'claim-slot-test' });
      const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
      const users = Array.from({ length: 5 }, () => testUserId('held-shard'));
      // The card's row held: the first two claims' batches wait on it (a sharded claim shares it); shard 1 held for longer.
      await cardRow`begin`;
      await cardRow`select id from gift_cards.gift_cards where id = ${card.id} for update`;
      await lastShard`begin`;
      await lastShard`select shard from gift_cards.card_slot_shards where card_id = ${card.id} and shard = 1 for update`;
      const answers: Promise<unknown>[] = [];
      for (const user of users.slice(0, 2)) {
        answers.push(sharded.redemptions.activate(user, card.code));
        await waitUntil('a batch on its way', async () => (await claimsWaitingOnALock(database.sql)) === answers.length || null);
      }
      // Two batches of the card on their way: the other three gather into one.
      for (const user of users.slice(2)) answers.push(sharded.redemptions.activate(user, card.code));
      await waitUntil('five claims underway', async () => sharded.redemptions.claimsUnderway() === 5 || null);
      const heldBefore = await heldCount();
      await cardRow`commit`;
      // Shard 0's three slots go to the batches; the big batch's users left over answer RETRY
      // and are claimed alone, waiting on shard 1.
      await waitUntil('a claim alone waiting on the held shard', async () => (await heldCount()) > heldBefore || null);
      await lastShard`commit`;
      const activations = (await Promise.all(answers)) as { redemption: { status: string } }[];
      expect(activations.map((activation) => activation.redemption.status)).toEqual(users.map(() => 'CREDITED'));
      expect(await ledgerCreditsOf(database.sql, users)).toMatchObject({ credits: 5, total: 275n, owners: 5, mostPerOwner: 1 });
      expect((await sharded.cards.findById(card.id))?.redemptionCount).toBe(5);
    } finally {
      await cardRow`rollback`.catch(() => {});
      await lastShard`rollback`.catch(() => {});
      cardRow.release();
      lastShard.release();
      await shardedListening.close();
      await sharded.close();
    }
  });
});
