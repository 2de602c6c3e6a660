// A replica remembers the cards it has seen used up or expired: those states never change
// back, so later claims of such a card are refused without claim_slot (without the card's
// row or its shards). The tests make the database say otherwise behind the replica's back
// (a usage limit raised by hand, which no API does) to see whether the memory or the row
// answered, and check that a caller's own redemption still answers ALREADY_REDEEMED and that
// a disabled card, which an admin may enable again, is never remembered.

import { createTestDatabase, errorCodeOf, startWalletBehindLink, type TestDatabase, testUserId, type WalletBehindLink } from '@giftpay/testing';
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

async function issue(usageLimit: number) {
  const [issued] = await giftCards.cards.issue({ value: { minor: 50n, currencyCode: 'IRR' }, count: 1, usageLimit, issuedBy: 'terminal-cards-test' });
  if (!issued) throw new Error('no card issued');
  return { code: issued.code, id: issued.giftCard.id };
}

async function redemptionsOf(cardId: string): Promise<number> {
  const [row] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${cardId}`;
  return row?.n ?? 0;
}

describe('cards remembered as used up or expired', () => {
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

  it('remembers a card it saw expired', async () => {
    const card = await issue(3);
    await database.sql`update gift_cards.gift_cards set expires_at = now() - interval '1 second' where id = ${card.id}`;
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('late'), card.code))).toBe('GIFT_CARD_EXPIRED');
    await database.sql`update gift_cards.gift_cards set expires_at = now() + interval '1 day' where id = ${card.id}`;
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('later'), card.code))).toBe('GIFT_CARD_EXPIRED');
    expect(await redemptionsOf(card.id)).toBe(0);
  });

  it('never remembers a disabled card: once the row is enabled again, the next claim succeeds', async () => {
    const card = await issue(3);
    await giftCards.cards.disable(card.id);
    expect(await errorCodeOf(giftCards.redemptions.activate(testUserId('refused'), card.code))).toBe('GIFT_CARD_DISABLED');
    await database.sql`update gift_cards.gift_cards set disabled_at = null where id = ${card.id}`;
    expect((await giftCards.redemptions.activate(testUserId('after'), card.code)).redemption.status).toBe('CREDITED');
  });
});
