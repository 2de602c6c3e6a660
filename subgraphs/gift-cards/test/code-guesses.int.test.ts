// Codes sent together by one user, against a real PostgreSQL and a real wallet: a burst of
// guesses must not all be looked up before the first wrong one is counted, or a right code
// among them is redeemed however far past FAILED_ACTIVATIONS_PER_USER it comes. The test
// holds gift_cards.attempt_counters (which every lookup reads) so that the guesses it sends
// stay underway, then sends the right code beside them.

import {
  createTestDatabase,
  errorCodeOf,
  issueOneCard,
  startWalletBehindLink,
  type TestDatabase,
  testUserId,
  type WalletBehindLink,
  waitUntilBlockedBy,
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

/** A connection of the test's own holding the attempt counters: every activation's lookup waits for it. */
async function holdAttemptCounters() {
  const connection = await database.sql.reserve();
  await connection`begin`;
  await connection`lock table gift_cards.attempt_counters in access exclusive mode`;
  const [row] = await connection`select pg_backend_pid() as pid`;
  let released = false;
  return {
    pid: row?.pid as number,
    async release() {
      if (released) return;
      released = true;
      await connection`rollback`.catch(() => {});
      connection.release();
    },
  };
}

describe("one user's codes sent together", () => {
  it('are looked up FAILED_ACTIVATIONS_PER_USER different codes at a time: a right code past them is refused RATE_LIMITED, not redeemed', async () => {
    const card = await issue(5);
    const guesser = testUserId('guesser');
    const holder = await holdAttemptCounters();
    try {
      const guesses = Array.from({ length: PER_USER }, (_, index) => errorCodeOf(giftCards.redemptions.activate(guesser, `WRONG-${index}-GUESS`)));
      await waitUntilBlockedBy(database.sql, holder.pid, { count: PER_USER });
      // The right code, while the user's guesses are all underway: refused at once, looked up
      // by no statement (with every lookup let through, it too would wait for the counters).
      const right = giftCards.redemptions.activate(guesser, card.code);
      const refusal = await right.then(
        () => 'redeemed',
        (error: Error & { code?: string; details?: { retryAfterSeconds?: number } }) => ({
          code: error.code,
          retryAfterSeconds: error.details?.retryAfterSeconds,
        }),
      );
      expect(refusal).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
      await holder.release();
      expect(await Promise.all(guesses)).toEqual(Array.from({ length: PER_USER }, () => 'GIFT_CARD_NOT_FOUND'));
    } finally {
      await holder.release();
    }
    // The guesses were counted: the right code is refused for the rest of the window.
    expect(await errorCodeOf(giftCards.redemptions.activate(guesser, card.code))).toBe('RATE_LIMITED');
    const [row] = await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${card.id}`;
    expect(row?.n).toBe(0);
    // Other users are not held back by the guesser's places.
    expect((await giftCards.redemptions.activate(testUserId('someone else'), card.code)).redemption.status).toBe('CREDITED');
  });

  it('count one code sent many times at once (a double tap, retries) as one: one redemption, the rest ALREADY_REDEEMED', async () => {
    const card = await issue(5);
    const user = testUserId('double tapper');
    const answers = await Promise.all(
      Array.from({ length: PER_USER * 4 }, () =>
        giftCards.redemptions.activate(user, card.code).then(
          (activation) => activation.redemption.status,
          (error: Error & { code?: string }) => error.code,
        ),
      ),
    );
    expect(answers.filter((answer) => answer === 'CREDITED')).toHaveLength(1);
    expect(answers.filter((answer) => answer !== 'CREDITED')).toEqual(Array.from({ length: PER_USER * 4 - 1 }, () => 'GIFT_CARD_ALREADY_REDEEMED'));
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
