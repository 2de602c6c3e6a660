// The credit outbox as it runs, against a real PostgreSQL and a real wallet behind a faulty
// link: what a failed delivery writes on the redemption row, the lease that keeps the relay
// off a fresh claim, the back-off between attempts, the batch size, and the relay's own
// timer and its stop. Time passes for real (a 1 s lease, polling with a deadline): no test
// moves `next_attempt_at` by hand.

import { createServer } from 'node:http';
import { listen } from '@giftpay/common';
import {
  assertBooksBalanced,
  backOffBoundsMs,
  createTestDatabase,
  creditKeysIn,
  databaseNowMs,
  forgetOwedCredits,
  installTestTrigger,
  ledgerCreditsOf,
  type OutboxRow,
  outboxRowsOf,
  settleOwedCredits,
  startWalletBehindLink,
  type TestDatabase,
  testUserId,
  type WalletBehindLink,
  waitUntil,
  waitUntilOwedCreditsDue,
} from '@giftpay/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GiftCardsServer } from '../src/server.ts';

let database: TestDatabase;
let rig: WalletBehindLink;

beforeAll(async () => {
  database = await createTestDatabase();
  rig = await startWalletBehindLink(database.url);
});

afterAll(async () => {
  await rig?.close();
});

// Counters count from here; each test also puts the link back in `finally`.
beforeEach(() => {
  rig.link.reset();
});

afterEach(async () => {
  await forgetOwedCredits(database.sql);
  await assertBooksBalanced(database.sql);
});

/** A short lease, so a test can wait it out in real time. */
const SHORT_LEASE = { CREDIT_RELAY_LEASE_MS: '1000' };

async function issueCard(giftCards: GiftCardsServer, amount: bigint, usageLimit: number): Promise<{ code: string; id: string }> {
  const [issued] = await giftCards.cards.issue({ value: { minor: amount, currencyCode: 'IRR' }, count: 1, usageLimit, issuedBy: 'outbox-test' });
  if (!issued) throw new Error('no card issued');
  return { code: issued.code, id: issued.giftCard.id };
}

async function onlyRow(cardId: string): Promise<OutboxRow> {
  const rows = await outboxRowsOf(database.sql, cardId);
  expect(rows).toHaveLength(1);
  return rows[0] as OutboxRow;
}

/** The row's next attempt is the failure time plus a back-off for `attempts`; the failure happened between `fromMs` and `toMs`. */
function expectBackOff(row: OutboxRow, attempts: number, fromMs: number, toMs: number): void {
  const { min, max } = backOffBoundsMs(attempts);
  expect(row.attempts).toBe(attempts);
  expect(row.nextAttemptAtMs).toBeGreaterThanOrEqual(fromMs + min - 1);
  expect(row.nextAttemptAtMs).toBeLessThanOrEqual(toMs + max + 1);
}

describe('a failed delivery', () => {
  it('is written on the row: one more attempt, the wallet’s error, the next attempt after a back-off that grows, and the relay keeps off until then', async () => {
    const giftCards = await rig.startGiftCards(SHORT_LEASE);
    const { link } = rig;
    try {
      const card = await issueCard(giftCards, 250n, 1);
      const user = testUserId('backoff');
      link.mode = 'refuse';

      const firstFrom = await databaseNowMs(database.sql);
      expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('PENDING');
      const firstTo = await databaseNowMs(database.sql);
      expect(link.counts).toMatchObject({ received: 1, refused: 1, forwarded: 0 });
      const afterFirst = await onlyRow(card.id);
      expect(afterFirst).toMatchObject({ status: 'PENDING', lastError: `POST ${link.url}/internal/credit-batches answered 503`, walletTransactionId: null });
      expectBackOff(afterFirst, 1, firstFrom, firstTo);

      // Not due yet: a relay pass leaves it alone (the wallet is not even asked).
      expect(await databaseNowMs(database.sql)).toBeLessThan(afterFirst.nextAttemptAtMs);
      expect(await giftCards.redemptions.relayOnce()).toBe(0);
      expect(link.counts.received).toBe(1);

      // Due in real time: the relay tries again, fails again, and waits longer.
      await waitUntilOwedCreditsDue(database.sql, card.id);
      const secondFrom = await databaseNowMs(database.sql);
      expect(await giftCards.redemptions.relayOnce()).toBe(0);
      const secondTo = await databaseNowMs(database.sql);
      expect(link.counts).toMatchObject({ received: 2, refused: 2, forwarded: 0 });
      const afterSecond = await onlyRow(card.id);
      expect(afterSecond).toMatchObject({ status: 'PENDING', lastError: `POST ${link.url}/internal/credit-batches answered 503` });
      expectBackOff(afterSecond, 2, secondFrom, secondTo);
      expect(afterSecond.nextAttemptAtMs - secondFrom).toBeGreaterThan(backOffBoundsMs(1).min);

      // The wallet is back: the next due pass delivers it, once.
      link.reset();
      await waitUntilOwedCreditsDue(database.sql, card.id);
      expect(await giftCards.redemptions.relayOnce()).toBe(1);
      const delivered = await onlyRow(card.id);
      expect(delivered).toMatchObject({ status: 'CREDITED', attempts: 2, lastError: null });
      expect(link.counts).toMatchObject({ received: 1, forwarded: 1 });
      expect(await ledgerCreditsOf(database.sql, [user])).toMatchObject({ credits: 1, total: 250n, duplicateKeys: 0 });
      const [entry] = await database.sql`select e.id from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id where w.owner_id = ${user}`;
      expect(delivered.walletTransactionId).toBe(entry?.id);
    } finally {
      rig.link.reset();
      await giftCards.close();
    }
  });

  it('records a timeout as the error when the wallet does not answer in time', async () => {
    const giftCards = await rig.startGiftCards({ ...SHORT_LEASE, WALLET_CREDIT_TIMEOUT_MS: '1000' });
    const { link } = rig;
    try {
      const card = await issueCard(giftCards, 40n, 1);
      const user = testUserId('timeout');
      link.mode = 'hang';
      const from = await databaseNowMs(database.sql);
      expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('PENDING');
      const to = await databaseNowMs(database.sql);
      expect(link.counts).toMatchObject({ hung: 1, forwarded: 0 });
      const row = await onlyRow(card.id);
      expect(row.lastError).toBe(`POST ${link.url}/internal/credit-batches failed: timed out after 1000 ms`);
      expectBackOff(row, 1, from, to);
      link.reset();
      // Delivered once the link passes again. On a loaded machine one more pass may miss the
      // 1 s deadline too, so the relay runs until the credit lands; it lands once.
      await settleOwedCredits(giftCards, database.sql, card.id);
      expect(await ledgerCreditsOf(database.sql, [user])).toMatchObject({ credits: 1, total: 40n, duplicateKeys: 0 });
    } finally {
      rig.link.reset();
      await giftCards.close();
    }
  });
});

describe('the lease on a fresh claim', () => {
  it('keeps the relay off a claim whose own request is still delivering, then lets it deliver once the lease has run out, and the two deliveries make one credit', async () => {
    // The request's own wallet call is held open far longer than the lease.
    const giftCards = await rig.startGiftCards({ ...SHORT_LEASE, WALLET_CREDIT_TIMEOUT_MS: '20000' });
    const { link } = rig;
    let activation: Promise<unknown> = Promise.resolve();
    try {
      const card = await issueCard(giftCards, 400n, 1);
      const user = testUserId('lease');
      link.next(1, 'hold');
      const activated = giftCards.redemptions.activate(user, card.code);
      activation = activated.catch(() => {});
      await link.waitFor('held', 1);

      const fresh = await onlyRow(card.id);
      expect(fresh).toMatchObject({ status: 'PENDING', attempts: 0, lastError: null });
      // Written with the claim, in its transaction: exactly one lease after the claim.
      expect(fresh.nextAttemptAtMs - fresh.createdAtMs).toBeCloseTo(1000, 3);

      // Inside the lease the relay takes nothing and asks the wallet nothing.
      expect(await databaseNowMs(database.sql)).toBeLessThan(fresh.nextAttemptAtMs);
      expect(await giftCards.redemptions.relayOnce()).toBe(0);
      expect(link.counts).toMatchObject({ received: 1, forwarded: 0 });

      // Passes every 100 ms: those that end inside the lease take nothing; once it has run out
      // (real time), one delivers it.
      const passes: { credited: number; endedMs: number }[] = [];
      await waitUntil(
        'a relay pass to deliver the claim',
        async () => {
          const credited = await giftCards.redemptions.relayOnce();
          passes.push({ credited, endedMs: await databaseNowMs(database.sql) });
          return credited > 0;
        },
        { intervalMs: 100 },
      );
      expect(passes.filter((pass) => pass.endedMs < fresh.nextAttemptAtMs).every((pass) => pass.credited === 0)).toBe(true);
      expect(passes.at(-1)).toMatchObject({ credited: 1 });
      expect(await onlyRow(card.id)).toMatchObject({ status: 'CREDITED', attempts: 0 });
      expect(link.counts).toMatchObject({ received: 2, forwarded: 1 });

      // The request's own call now reaches the wallet too: same key, so still one credit.
      link.release();
      expect((await activated).redemption.status).toBe('CREDITED');
      expect(link.counts.forwarded).toBe(2);
      const keys = creditKeysIn(link.forwardedBodies);
      expect(keys).toEqual([keys[0], keys[0]]);
      expect(await ledgerCreditsOf(database.sql, [user])).toMatchObject({ credits: 1, total: 400n, mostPerOwner: 1, duplicateKeys: 0 });
    } finally {
      rig.link.reset();
      await activation;
      await giftCards.close();
    }
  });
});

describe('a credit the wallet confirmed that cannot be recorded here', () => {
  it('is answered CREDITED with the balance the wallet gave, not as a failure; the row stays owed and the relay closes it with no second credit', async () => {
    const giftCards = await rig.startGiftCards(SHORT_LEASE);
    const user = testUserId('unrecorded');
    // The row's own update to CREDITED fails (as with the database lost after the wallet answered).
    const fault = await installTestTrigger(
      database.sql,
      'gift_cards.redemptions',
      'before update',
      `if new.status = 'CREDITED' and new.user_id = '${user}' then
         raise exception 'the bookkeeping fails (test)' using errcode = 'XX000';
       end if;
       return new;`,
    );
    try {
      const card = await issueCard(giftCards, 320n, 1);
      const activation = await giftCards.redemptions.activate(user, card.code);
      expect(activation.redemption.status).toBe('CREDITED');
      expect(activation.walletBalance?.balanceMinor).toBe(320n);
      expect(rig.link.counts.forwarded).toBe(1);
      // The money is in the wallet once; the row still says it is owed.
      expect(await ledgerCreditsOf(database.sql, [user])).toMatchObject({ credits: 1, total: 320n });
      expect(await onlyRow(card.id)).toMatchObject({ status: 'PENDING' });

      await fault.remove();
      await waitUntilOwedCreditsDue(database.sql, card.id);
      expect(await giftCards.redemptions.relayOnce()).toBe(1);
      expect(await onlyRow(card.id)).toMatchObject({ status: 'CREDITED' });
      // Sent again under the same key: replayed by the wallet, not credited twice.
      expect(rig.link.counts.forwarded).toBe(2);
      expect(await ledgerCreditsOf(database.sql, [user])).toMatchObject({ credits: 1, total: 320n, mostPerOwner: 1, duplicateKeys: 0 });
    } finally {
      await fault.remove();
      await giftCards.close();
    }
  });
});

describe('a whole credit call refused by something between gift-cards and the wallet', () => {
  it('leaves the credit owed and retried, not parked as if the wallet had refused that credit for good', async () => {
    // What a proxy or a misrouted WALLET_URL answers: 400 to the call itself, for every credit in it.
    const refusing = createServer((_request, response) => {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'BAD_REQUEST', message: 'not a route here' }));
    });
    const listening = await listen(refusing, 0, '127.0.0.1');
    const giftCards = await rig.startGiftCards({ ...SHORT_LEASE, WALLET_URL: listening.url, CREDIT_RETRY_DELAYS_MS: '' });
    try {
      const card = await issueCard(giftCards, 150n, 1);
      const user = testUserId('call-refused');
      const activation = await giftCards.redemptions.activate(user, card.code);
      expect(activation.redemption.status).toBe('PENDING');
      const row = await onlyRow(card.id);
      expect(row).toMatchObject({ status: 'PENDING', attempts: 1 });
      expect(row.lastError).toMatch(/answered 400$/);
      // Not parked: the relay will send it again once the wallet is reached.
      const [parked] = await database.sql`select parked_at from gift_cards.redemptions where id = ${row.id}`;
      expect(parked?.parked_at).toBeNull();
    } finally {
      await giftCards.close();
      await listening.close();
    }
  });
});

describe('a relay pass', () => {
  it('takes at most CREDIT_RELAY_BATCH_SIZE owed credits', async () => {
    const giftCards = await rig.startGiftCards({ ...SHORT_LEASE, CREDIT_RELAY_BATCH_SIZE: '2' });
    const { link } = rig;
    try {
      const card = await issueCard(giftCards, 30n, 5);
      const users = Array.from({ length: 5 }, () => testUserId('batch'));
      link.mode = 'refuse';
      for (const user of users) expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('PENDING');
      expect(link.counts.refused).toBe(5);
      link.reset();
      await waitUntilOwedCreditsDue(database.sql, card.id);

      const credited = async () => (await outboxRowsOf(database.sql, card.id)).filter((row) => row.status === 'CREDITED').length;
      // A pass's credits leave together: one call to the wallet carries both.
      expect(await giftCards.redemptions.relayOnce()).toBe(2);
      expect(link.counts.forwarded).toBe(1);
      expect(creditKeysIn(link.forwardedBodies)).toHaveLength(2);
      expect(await credited()).toBe(2);
      expect(await giftCards.redemptions.relayOnce()).toBe(2);
      expect(await credited()).toBe(4);
      expect(await giftCards.redemptions.relayOnce()).toBe(1);
      expect(await giftCards.redemptions.relayOnce()).toBe(0);
      expect(link.counts.forwarded).toBe(3);
      expect(creditKeysIn(link.forwardedBodies)).toHaveLength(5);
      expect(await ledgerCreditsOf(database.sql, users)).toMatchObject({ credits: 5, total: 150n, owners: 5, mostPerOwner: 1, duplicateKeys: 0 });
    } finally {
      rig.link.reset();
      await giftCards.close();
    }
  });
});

describe('the relay on its timer', () => {
  it('delivers owed credits by itself once the wallet is back', async () => {
    const giftCards = await rig.startGiftCards({ ...SHORT_LEASE, CREDIT_RELAY_INTERVAL_MS: '50' }, { startRelay: true });
    const { link } = rig;
    try {
      const card = await issueCard(giftCards, 20n, 3);
      const users = Array.from({ length: 3 }, () => testUserId('timer'));
      link.mode = 'refuse';
      for (const user of users) expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('PENDING');
      link.reset();
      // Nobody calls relayOnce here: only the timer can deliver them.
      const statuses = async () => (await outboxRowsOf(database.sql, card.id)).map((row) => row.status);
      await waitUntil('the relay’s timer to deliver every owed credit', async () => (await statuses()).join() === 'CREDITED,CREDITED,CREDITED');
      expect(await statuses()).toEqual(Array(3).fill('CREDITED'));
      expect(creditKeysIn(link.forwardedBodies)).toHaveLength(3);
      expect(await ledgerCreditsOf(database.sql, users)).toMatchObject({ credits: 3, total: 60n, owners: 3, mostPerOwner: 1, duplicateKeys: 0 });
    } finally {
      rig.link.reset();
      await giftCards.close();
    }
  });

  it('stops only after the pass in flight has finished', async () => {
    const giftCards = await rig.startGiftCards({ ...SHORT_LEASE, CREDIT_RELAY_INTERVAL_MS: '50', WALLET_CREDIT_TIMEOUT_MS: '20000' }, { startRelay: true });
    const { link } = rig;
    let closing: Promise<void> | null = null;
    try {
      const card = await issueCard(giftCards, 90n, 1);
      const user = testUserId('stop');
      link.mode = 'refuse';
      expect((await giftCards.redemptions.activate(user, card.code)).redemption.status).toBe('PENDING');
      link.reset();
      link.mode = 'hold';
      // The timer's pass takes the credit once due, and its wallet call is held open.
      await link.waitFor('held', 1);

      let closed = false;
      closing = giftCards.close().then(() => {
        closed = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(closed).toBe(false);
      expect((await onlyRow(card.id)).status).toBe('PENDING');

      link.mode = 'pass';
      link.release();
      await closing;
      // The pass wrote its result before the server let go of its database.
      expect(await onlyRow(card.id)).toMatchObject({ status: 'CREDITED', attempts: 1 });
      expect(link.counts).toMatchObject({ held: 1, forwarded: 1 });
      expect(await ledgerCreditsOf(database.sql, [user])).toMatchObject({ credits: 1, total: 90n });
    } finally {
      rig.link.reset();
      await (closing ?? giftCards.close());
    }
  });
});
