// A replica remembers the cards it has seen used up, with their redeemers: that state never
// changes back, so later claims of such a card are answered with no statement at all. The
// tests make the database say otherwise behind the replica's back (a usage limit raised by
// hand, which no API does) to see whether the memory or the database answered, and check
// that a redeemer, whichever request of theirs won, still hears ALREADY_REDEEMED, and that
// an expired or disabled card is never remembered. And a user who taps "activate" twice (or
// whose client retries) sends several claims at once: however they interleave with the one
// that wins, every other one is told ALREADY_REDEEMED, never USED_UP.

import { createTestDatabase, errorCodeOf, issueOneCard, startWalletBehindLink, type TestDatabase, testUserId, type WalletBehindLink } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GiftCardsServer } from '../src/server.ts';

let database: TestDatabase;
let rig: WalletBehindLink;
let giftCards: GiftCardsServer;

beforeAll(async () => {
  database = await createTestDatabase();
  rig = await startWalletBehindLink(database.url);
  giftCards = await rig.startGiftCards();
});

afterAll(async () => {
  await giftCards?.close();
  await rig?.close();
});

function issue(usageLimit: number) {
  return issueOneCard(giftCards, { usageLimit, issuedBy: 'terminal-cards-test' });
}

async function redemptionsOf(cardId: string): Promise<number> {
  const [row] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${cardId}`;
  return row?.n ?? 0;
}

describe('cards remembered as used up', () => {
  it('refuses a card it saw used up even after its row says there is room again, and tells the winner ALREADY_REDEEMED', async () => {
    const card = await issue(1);
    const winner = testUserId('winner');
    expect((await giftCards.redemptions.activate(winner, card.code)).redemption.status).toBe('CREDITED');
    // The claim that finds the card full is what the replica remembers.
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('late'), card.code))).toBe('GIFT_CARD_USED_UP');
    await database.sql`update gift_cards.gift_cards set usage_limit = 5 where id = ${card.id}`;
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('later'), card.code))).toBe('GIFT_CARD_USED_UP');
    expect(await errorCodeOf(giftCards.redemptions.activate(winner, card.code))).toBe('GIFT_CARD_ALREADY_REDEEMED');
    expect(await redemptionsOf(card.id)).toBe(1);
  });

  it('is per process: a replica that never saw the card used up reads the row and claims the room it finds', async () => {
    const card = await issue(1);
    expect((await giftCards.redemptions.activate(testUserId('winner'), card.code)).redemption.status).toBe('CREDITED');
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('late'), card.code))).toBe('GIFT_CARD_USED_UP');
    await database.sql`update gift_cards.gift_cards set usage_limit = 2 where id = ${card.id}`;
    const fresh = await rig.startGiftCards();
    try {
      expect((await fresh.redemptions.activate(testUserId('second'), card.code)).redemption.status).toBe('CREDITED');
    } finally {
      await fresh.close();
    }
    expect(await redemptionsOf(card.id)).toBe(2);
  });

  it('tells every redeemer ALREADY_REDEEMED from memory, also one whose claim was not the one that filled the card', async () => {
    const card = await issue(3);
    const [first, second, third] = [testUserId('first'), testUserId('second'), testUserId('third')];
    for (const user of [first, second, third]) expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('CREDITED');
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('late'), card.code))).toBe('GIFT_CARD_USED_UP');
    await database.sql`update gift_cards.gift_cards set usage_limit = 10 where id = ${card.id}`;
    for (const user of [first, second, third]) expect(await errorCodeOf(giftCards.redemptions.activate(user, card.code))).toBe('GIFT_CARD_ALREADY_REDEEMED');
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('later'), card.code))).toBe('GIFT_CARD_USED_UP');
    expect(await redemptionsOf(card.id)).toBe(3);
  });

  it('forgets the oldest used-up card once the redeemers kept would pass USED_UP_MEMORY_REDEEMERS, and keeps the newest', async () => {
    const small = await rig.startGiftCards({ USED_UP_MEMORY_REDEEMERS: '4' });
    try {
      const useUp = async (limit: number) => {
        const [issued] = await small.cards.issue({ value: { minor: 50n, currencyCode: 'IRR' }, count: 1, usageLimit: limit, issuedBy: 'terminal-cards-test' });
        const card = { code: issued?.code ?? '', id: issued?.giftCard.id ?? '' };
        for (let slot = 0; slot < limit; slot += 1)
          expect((await small.redemptions.activate(testUserId('winner'), card.code)).redemption.status).toBe('CREDITED');
        // Seen used up: remembered, with its `limit` redeemers.
        expect(await errorCodeOf(small.redemptions.activate(testUserId('late'), card.code))).toBe('GIFT_CARD_USED_UP');
        return card;
      };
      const older = await useUp(3);
      const newer = await useUp(3);
      // 3 + 3 redeemers would pass 4: the older card was forgotten, so its row answers now.
      await database.sql`update gift_cards.gift_cards set usage_limit = usage_limit + 1 where id in (${older.id}, ${newer.id})`;
      expect((await small.redemptions.activate(testUserId('after'), older.code)).redemption.status).toBe('CREDITED');
      expect(await errorCodeOf(small.redemptions.activate(testUserId('after'), newer.code))).toBe('GIFT_CARD_USED_UP');
      expect([await redemptionsOf(older.id), await redemptionsOf(newer.id)]).toEqual([4, 3]);
    } finally {
      await small.close();
    }
  });

  it('never remembers an expired card: once the row says it runs longer, the next claim succeeds', async () => {
    const card = await issue(3);
    await database.sql`update gift_cards.gift_cards set expires_at = now() - interval '1 second' where id = ${card.id}`;
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('late'), card.code))).toBe('GIFT_CARD_EXPIRED');
    await database.sql`update gift_cards.gift_cards set expires_at = now() + interval '1 day' where id = ${card.id}`;
    expect((await giftCards.redemptions.activate(testUserId('after'), card.code)).redemption.status).toBe('CREDITED');
  });

  it('never remembers a disabled card: once the row is enabled again, the next claim succeeds', async () => {
    const card = await issue(3);
    await giftCards.cards.disable(card.id, { actorId: 'test-admin' });
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('refused'), card.code))).toBe('GIFT_CARD_DISABLED');
    await database.sql`update gift_cards.gift_cards set disabled_at = null where id = ${card.id}`;
    expect((await giftCards.redemptions.activate(testUserId('after'), card.code)).redemption.status).toBe('CREDITED');
  });
});

describe('a user who sends the same single-use code several times at once', () => {
  it('is credited once and told GIFT_CARD_ALREADY_REDEEMED by every other claim, on each of 50 cards', async () => {
    const issued = await giftCards.cards.issue({ value: { minor: 70n, currencyCode: 'IRR' }, count: 50, usageLimit: 1, issuedBy: 'double-tap-test' });
    for (const { code, giftCard } of issued) {
      const user = testUserId('double-tap');
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          giftCards.redemptions.activate(user, code).then(
            (activation) => activation.redemption.status,
            (error: unknown) => errorCodeOf(Promise.reject(error)),
          ),
        ),
      );
      expect(
        answers.filter((answer) => answer === 'CREDITED' || answer === 'PENDING'),
        `card ${giftCard.id}`,
      ).toHaveLength(1);
      expect(
        answers.filter((answer) => answer === 'GIFT_CARD_ALREADY_REDEEMED'),
        `card ${giftCard.id}: ${answers.join(', ')}`,
      ).toHaveLength(7);
      const [row] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${giftCard.id}`;
      expect(row?.n).toBe(1);
    }
  });
});
