// A user who taps "activate" twice (or whose client retries) sends several claims of one card
// at once. However they interleave with the claim that wins, every other one is told
// GIFT_CARD_ALREADY_REDEEMED, never GIFT_CARD_USED_UP: the card is used up by that user's own
// redemption. Money is not at stake (claim_slot takes one slot per user); the answer is.

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
