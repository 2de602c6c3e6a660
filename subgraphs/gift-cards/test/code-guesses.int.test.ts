// Codes sent together by one user, against a real PostgreSQL and a real wallet: a burst of
// guesses must not all be looked up before the first wrong one is counted, or a right code
// among them is redeemed however far past FAILED_ACTIVATIONS_PER_USER it comes. The test holds
// the user's attempt counter row, so that the guesses it sends are looked up and then wait to
// be counted, and sends the right code beside them.

import {
  createTestDatabase,
  errorCodeOf,
  holdLock,
  issueOneCard,
  startWalletBehindLink,
  type TestDatabase,
  testUserId,
  type WalletBehindLink,
  waitUntilWaitingOnLocks,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GiftCardsServer } from '../src/server.ts';

const PER_USER = 3;

let database: TestDatabase;
let rig: WalletBehindLink;
let giftCards: GiftCardsServer;

beforeAll(async () => {
  database = await createTestDatabase();
  rig = await startWalletBehindLink(database.url);
  giftCards = await rig.startGiftCards({ FAILED_ACTIVATIONS_PER_USER: String(PER_USER) });
});

afterAll(async () => {
  await giftCards?.close();
  await rig?.close();
});

function issue(usageLimit: number) {
  return issueOneCard(giftCards, { usageLimit, issuedBy: 'code-guesses-test' });
}

/** A user's attempt counter row held by the test: reads of it pass, counting a failure waits. */
function holdCounterOf(userId: string) {
  return holdLock(database.sql, async (connection) => {
    const rows = await connection`select count from gift_cards.attempt_counters where subject = ${`user:${userId}`} for update`;
    if (rows.length !== 1) throw new Error(`no counter row for ${userId}`);
  });
}

/** What an activation ended in: the redemption's status, or the error's code. */
function outcomeOf(activation: Promise<{ redemption: { status: string } }>): Promise<string | undefined> {
  return activation.then(
    (done) => done.redemption.status,
    (error: Error & { code?: string }) => error.code,
  );
}

describe("one user's codes sent together", () => {
  it('are looked up FAILED_ACTIVATIONS_PER_USER different codes at a time: a right code past them waits, and meets the failures they counted', async () => {
    const card = await issue(5);
    const guesser = testUserId('guesser');
    // Two failures already: one more is allowed in this window.
    for (const guess of ['WRONG-A-GUESS', 'WRONG-B-GUESS'])
      expect(await errorCodeOf(giftCards.redemptions.activate(guesser, guess))).toBe('GIFT_CARD_NOT_FOUND');
    const holder = await holdCounterOf(guesser);
    try {
      // Three different guesses: each looked up (the count, 2, still under the limit), then
      // waiting to be counted, each holding its place.
      const guesses = Array.from({ length: PER_USER }, (_, index) => outcomeOf(giftCards.redemptions.activate(guesser, `WRONG-${index}-GUESS`)));
      await waitUntilWaitingOnLocks(database.sql, PER_USER);
      // The right code waits for a place. Looked up now, beside the guesses, it would find
      // the count at 2 and be redeemed (a place given back before its failure was counted,
      // too): the 300 ms give that wrong outcome its time to show.
      const right = outcomeOf(giftCards.redemptions.activate(guesser, card.code));
      const early = await Promise.race([right, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 300))]);
      expect(early).toBe('still waiting');
      await holder.release();
      // Counted one by one: the third failure is answered, the two past the limit are not.
      expect((await Promise.all(guesses)).sort()).toEqual(['GIFT_CARD_NOT_FOUND', 'RATE_LIMITED', 'RATE_LIMITED']);
      // The right code, looked up once a guess was counted, meets the limit.
      expect(await right).toBe('RATE_LIMITED');
    } finally {
      await holder.release();
    }
    const [row] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${card.id}`;
    expect(row?.n).toBe(0);
    // Other users are not held back by the guesser's places.
    expect((await giftCards.redemptions.activate(testUserId('someone else'), card.code)).redemption.status).toBe('CREDITED');
  });

  it('wait their turn when they are more than the limit but right: every card sent at once is redeemed', async () => {
    const user = testUserId('many cards');
    const cards = await Promise.all(Array.from({ length: PER_USER * 2 }, () => issue(1)));
    const outcomes = await Promise.all(cards.map((card) => outcomeOf(giftCards.redemptions.activate(user, card.code))));
    expect(outcomes).toEqual(cards.map(() => 'CREDITED'));
  });

  it('count one code sent many times at once (a double tap, retries) as one place: its copies are answered while the other places stay held', async () => {
    const card = await issue(5);
    const user = testUserId('double tapper');
    await errorCodeOf(giftCards.redemptions.activate(user, 'WRONG-FIRST-GUESS'));
    const holder = await holdCounterOf(user);
    try {
      // All places but one held by guesses waiting to be counted.
      const guesses = Array.from({ length: PER_USER - 1 }, (_, index) => outcomeOf(giftCards.redemptions.activate(user, `WRONG-${index}-HELD`)));
      await waitUntilWaitingOnLocks(database.sql, PER_USER - 1);
      // Twelve copies of one right code share the last place, so all are answered now; each
      // taking a place of its own, all but one would wait for the guesses to be counted.
      const answers = await Promise.all(Array.from({ length: 12 }, () => outcomeOf(giftCards.redemptions.activate(user, card.code))));
      expect(answers.filter((answer) => answer === 'CREDITED')).toHaveLength(1);
      expect(answers.filter((answer) => answer !== 'CREDITED')).toEqual(Array.from({ length: 11 }, () => 'GIFT_CARD_ALREADY_REDEEMED'));
      await holder.release();
      expect(await Promise.all(guesses)).toEqual(Array.from({ length: PER_USER - 1 }, () => 'GIFT_CARD_NOT_FOUND'));
    } finally {
      await holder.release();
    }
  });

  it('refuse a code past WAITING_CODES_PER_PLACE (4) waiting for each place RATE_LIMITED, at once', async () => {
    const user = testUserId('flooder');
    await errorCodeOf(giftCards.redemptions.activate(user, 'WRONG-FIRST-GUESS'));
    const holder = await holdCounterOf(user);
    const sent: Promise<string | undefined>[] = [];
    try {
      sent.push(...Array.from({ length: PER_USER }, (_, index) => outcomeOf(giftCards.redemptions.activate(user, `WRONG-${index}-HELD`))));
      await waitUntilWaitingOnLocks(database.sql, PER_USER);
      sent.push(...Array.from({ length: 4 * PER_USER }, (_, index) => outcomeOf(giftCards.redemptions.activate(user, `WRONG-${index}-WAITING`))));
      expect(await outcomeOf(giftCards.redemptions.activate(user, 'WRONG-ONE-TOO-MANY'))).toBe('RATE_LIMITED');
    } finally {
      await holder.release();
    }
    // The others are all answered once the held guesses are counted: none waits for ever.
    const outcomes = await Promise.all(sent);
    expect(outcomes.filter((outcome) => outcome === 'GIFT_CARD_NOT_FOUND')).toHaveLength(PER_USER - 1);
    expect(outcomes.filter((outcome) => outcome === 'RATE_LIMITED')).toHaveLength(5 * PER_USER - (PER_USER - 1));
  });

  it('give each place back when the lookup ends, right or wrong code: one after another, a user activates more cards than the limit', async () => {
    const user = testUserId('collector');
    for (let round = 0; round < PER_USER + 2; round += 1) {
      const card = await issue(1);
      expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('CREDITED');
    }
    // A wrong code and then a right one: the wrong one's place is given back too.
    expect(await errorCodeOf(giftCards.redemptions.activate(user, 'WRONG-ONCE-GUESS'))).toBe('GIFT_CARD_NOT_FOUND');
    expect((await giftCards.redemptions.activate(user, (await issue(1)).code)).redemption.status).toBe('CREDITED');
  });
});
