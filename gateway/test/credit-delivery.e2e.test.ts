// The credit saga when the wallet fails: the claim is answered (PENDING), nothing is
// credited twice, and the relay delivers every owed credit once the wallet is back, also
// after the answer of a credit was lost, after a restart of the gift-cards service, and with
// two relays whose passes overlap. Faults come from a proxy on the link to the wallet, whose
// counters each test reads; owed credits fall due in real time (a 1 s lease), never by SQL.

import {
  activateGiftCard,
  assertBooksBalanced,
  burst,
  createTestDatabase,
  creditKeysIn,
  type FaultyProxy,
  forgetOwedCredits,
  issuePromotion,
  ledgerCreditsOf,
  outboxRowsOf,
  type SignedIn,
  type Stack,
  settleOwedCredits,
  signUpMany,
  startFaultyProxy,
  startGateway,
  startGiftCardsReplica,
  startStack,
  type TestDatabase,
  tallyActivations,
  waitUntilOwedCreditsDue,
} from '@giftpay/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;
let link: FaultyProxy;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({
    databaseUrl: database.url,
    faultyWalletLink: true,
    env: { WALLET_CREDIT_TIMEOUT_MS: '5000', CREDIT_RELAY_LEASE_MS: '1000' },
  });
  if (!stack.walletLink) throw new Error('no faulty link');
  link = stack.walletLink;
});

afterAll(async () => {
  await stack?.close();
});

// Counters count from here; each test that faults the link also puts it back in `finally`.
beforeEach(() => {
  link.reset();
});

afterEach(async () => {
  await forgetOwedCredits(database.sql);
  await assertBooksBalanced(database.sql);
});

async function balanceOf(user: SignedIn): Promise<string | undefined> {
  const result = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
  return result.data?.me.wallet.balance.amount;
}

describe('when the wallet is down', () => {
  it('answers every claim as PENDING, then credits each exactly once when the wallet is back', async () => {
    try {
      const promo = await issuePromotion(stack, '300', 10);
      const users = await signUpMany(stack, 12);
      link.mode = 'refuse';
      const tally = tallyActivations(users, await burst(stack, users, promo.code));
      expect(tally).toMatchObject({ claimed: 10, pending: 10, credited: 0, refusals: { GIFT_CARD_USED_UP: 2 } });
      // The fault happened: every claim's credit was refused on the way, none reached the wallet.
      expect(link.counts).toMatchObject({ forwarded: 0 });
      expect(link.counts.refused).toBe(link.counts.received);
      expect(new Set(creditKeysIn(await link.bodies('refused'))).size).toBe(10);
      const owed = await outboxRowsOf(database.sql, promo.id);
      expect(owed).toHaveLength(10);
      expect(owed.every((row) => row.status === 'PENDING' && row.attempts === 1 && row.lastError?.endsWith('answered 503'))).toBe(true);

      // The wallet is back but the relay has not run: nobody has been credited yet.
      link.reset();
      expect(await Promise.all(users.map(balanceOf))).toEqual(Array(12).fill('0'));

      // Once the back-off has run out (real time), one pass delivers all ten.
      await waitUntilOwedCreditsDue(database.sql, promo.id);
      expect(await stack.giftCards.server.redemptions.relayOnce()).toBe(10);
      // The pass's ten credits leave together: one call to the wallet.
      expect(link.counts.forwarded).toBe(1);
      expect(creditKeysIn(link.forwardedBodies)).toHaveLength(10);
      expect((await outboxRowsOf(database.sql, promo.id)).map((row) => row.status)).toEqual(Array(10).fill('CREDITED'));
      const claimedIds = new Set(tally.claimedBy.map((user) => user.userId));
      expect(await Promise.all(users.map(balanceOf))).toEqual(users.map((user) => (claimedIds.has(user.userId) ? '300' : '0')));

      // A pass with nothing due sends nothing, and the ledger holds what the answers promised.
      expect(await stack.giftCards.server.redemptions.relayOnce()).toBe(0);
      expect(link.counts.forwarded).toBe(1);
      expect(
        await ledgerCreditsOf(
          database.sql,
          users.map((user) => user.userId),
        ),
      ).toEqual({
        credits: tally.claimed,
        total: 300n * BigInt(tally.claimed),
        owners: tally.claimed,
        mostPerOwner: 1,
        duplicateKeys: 0,
      });
    } finally {
      link.reset();
    }
  });

  it('shows the redemption as CREDITED in the user’s history once delivered', async () => {
    try {
      const promo = await issuePromotion(stack, '50', 1);
      const user = await stack.signUp();
      link.next(1, 'refuse');
      const claim = await activateGiftCard(stack, user, promo.code);
      expect(claim.data?.activateGiftCard.redemption.status).toBe('PENDING');
      expect(link.counts).toMatchObject({ refused: 1, forwarded: 0 });
      await settleOwedCredits(stack.giftCards.server, database.sql, promo.id);
      const history = await stack.graphql<{ me: { giftCardRedemptions: { edges: { node: { id: string; status: string } }[] } } }>(
        '{ me { giftCardRedemptions { edges { node { id status } } } } }',
        { token: user.token },
      );
      expect(history.data?.me.giftCardRedemptions.edges.map((edge) => edge.node)).toEqual([
        { id: claim.data?.activateGiftCard.redemption.id, status: 'CREDITED' },
      ]);
      expect(await balanceOf(user)).toBe('50');
    } finally {
      link.reset();
    }
  });
});

describe('when the wallet credited but its answer was lost', () => {
  it('credits once, though the relay delivers the credit again', async () => {
    try {
      const promo = await issuePromotion(stack, '80', 1);
      const user = await stack.signUp();
      link.next(1, 'lose-response');
      const claim = await activateGiftCard(stack, user, promo.code);
      expect(claim.data?.activateGiftCard.redemption.status).toBe('PENDING');
      await link.waitFor('lost', 1);
      expect(link.counts).toMatchObject({ received: 1, forwarded: 1, lost: 1 });
      // The wallet did the work; gift-cards does not know it and still owes the credit.
      expect(await ledgerCreditsOf(database.sql, [user.userId])).toMatchObject({ credits: 1, total: 80n });
      const [owed] = await outboxRowsOf(database.sql, promo.id);
      expect(owed).toMatchObject({ status: 'PENDING', attempts: 1 });

      await waitUntilOwedCreditsDue(database.sql, promo.id);
      expect(await stack.giftCards.server.redemptions.relayOnce()).toBe(1);
      // Delivered a second time, under the same key: the wallet answers with the first credit.
      expect(link.counts).toMatchObject({ received: 2, forwarded: 2, lost: 1 });
      expect(creditKeysIn(link.forwardedBodies)).toEqual([`gift-card-redemption:${owed?.id}`, `gift-card-redemption:${owed?.id}`]);
      expect(await ledgerCreditsOf(database.sql, [user.userId])).toEqual({ credits: 1, total: 80n, owners: 1, mostPerOwner: 1, duplicateKeys: 0 });
      const [entry] =
        await database.sql`select e.id from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id where w.owner_id = ${user.userId}`;
      expect(await outboxRowsOf(database.sql, promo.id)).toMatchObject([{ status: 'CREDITED', walletTransactionId: entry?.id }]);
      expect(await balanceOf(user)).toBe('80');
    } finally {
      link.reset();
    }
  });
});

describe('owed credits survive the gift-cards service', () => {
  it('delivers credits owed before a restart, once, even with two relays racing', async () => {
    const promo = await issuePromotion(stack, '70', 5);
    const users = await signUpMany(stack, 5);
    // The server that takes the claims while the wallet is unreachable, then stops.
    const before = await startGiftCardsReplica(stack);
    let beforeClosed = false;
    const replicas: Awaited<ReturnType<typeof startGiftCardsReplica>>[] = [];
    let passes: Promise<number[]> = Promise.resolve([]);
    try {
      link.mode = 'refuse';
      for (const user of users) expect((await before.redemptions.activate(user.userId, promo.code)).redemption.status).toBe('PENDING');
      expect(link.counts).toMatchObject({ refused: 5, forwarded: 0 });
      expect(creditKeysIn(await link.bodies('refused'))).toHaveLength(5);
      await before.close();
      beforeClosed = true;
      link.reset();

      // Two new servers on the same database, as after a restart with scale-out; three credits a pass.
      const env = { CREDIT_RELAY_BATCH_SIZE: '3', WALLET_CREDIT_TIMEOUT_MS: '20000' };
      replicas.push(await startGiftCardsReplica(stack, env), await startGiftCardsReplica(stack, env));
      await waitUntilOwedCreditsDue(database.sql, promo.id);

      // Both passes take their batch and hold their wallet calls open at the same time.
      link.mode = 'hold';
      passes = Promise.all(replicas.map((replica) => replica.redemptions.relayOnce()));
      // Each pass sends its batch as one call: two calls, five credits.
      await link.waitFor('held', 2);
      expect((await outboxRowsOf(database.sql, promo.id)).map((row) => row.status)).toEqual(Array(5).fill('PENDING'));
      link.mode = 'pass';
      link.release();
      expect((await passes).sort()).toEqual([2, 3]);

      // Each credit was sent once, and credited once.
      expect(link.counts).toMatchObject({ held: 2, forwarded: 2 });
      const keys = creditKeysIn(link.forwardedBodies);
      expect(keys).toHaveLength(5);
      expect(new Set(keys).size).toBe(5);
      expect(
        await ledgerCreditsOf(
          database.sql,
          users.map((user) => user.userId),
        ),
      ).toEqual({
        credits: 5,
        total: 350n,
        owners: 5,
        mostPerOwner: 1,
        duplicateKeys: 0,
      });
      for (const user of users) expect(await balanceOf(user)).toBe('70');
    } finally {
      link.reset();
      await passes.catch(() => {});
      if (!beforeClosed) await before.close();
      for (const replica of replicas) await replica.close();
    }
  });

  it('credits once a credit two relays both send, because its lease ran out while the first was still sending it', async () => {
    const promo = await issuePromotion(stack, '90', 2);
    const users = await signUpMany(stack, 2);
    const replicas: Awaited<ReturnType<typeof startGiftCardsReplica>>[] = [];
    const passes: Promise<number>[] = [];
    try {
      link.mode = 'refuse';
      expect(tallyActivations(users, await burst(stack, users, promo.code))).toMatchObject({ claimed: 2, pending: 2 });
      link.reset();
      const env = { WALLET_CREDIT_TIMEOUT_MS: '20000' };
      replicas.push(await startGiftCardsReplica(stack, env), await startGiftCardsReplica(stack, env));
      const [first, second] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
      await waitUntilOwedCreditsDue(database.sql, promo.id);

      link.mode = 'hold';
      passes.push(first.redemptions.relayOnce());
      await link.waitFor('held', 1);
      // The first pass's lease on both credits runs out (real time) while its calls are held.
      await waitUntilOwedCreditsDue(database.sql, promo.id);
      passes.push(second.redemptions.relayOnce());
      await link.waitFor('held', 2);
      link.mode = 'pass';
      link.release();
      // Both passes see their deliveries confirmed: the wallet answers a repeat with the first credit.
      expect(await Promise.all(passes)).toEqual([2, 2]);

      const keys = creditKeysIn(link.forwardedBodies);
      expect(keys).toHaveLength(4);
      expect(new Set(keys).size).toBe(2);
      expect(
        await ledgerCreditsOf(
          database.sql,
          users.map((user) => user.userId),
        ),
      ).toEqual({
        credits: 2,
        total: 180n,
        owners: 2,
        mostPerOwner: 1,
        duplicateKeys: 0,
      });
      expect((await outboxRowsOf(database.sql, promo.id)).map((row) => row.status)).toEqual(Array(2).fill('CREDITED'));
    } finally {
      link.reset();
      await Promise.allSettled(passes);
      for (const replica of replicas) await replica.close();
    }
  });
});

describe('/health', () => {
  it('answers 200 when every subgraph is ready and 503 while one is down', async () => {
    // A second gateway that reaches the wallet through a link of its own, so "down" needs no
    // port closed and listened on again.
    const walletLink = await startFaultyProxy(stack.wallet.listening.url);
    const gateway = await startGateway({ ...stack.env, WALLET_URL: walletLink.url });
    try {
      expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
      walletLink.mode = 'refuse';
      const down = await fetch(`${gateway.url}/health`);
      expect(down.status).toBe(503);
      expect(walletLink.counts.refused).toBeGreaterThanOrEqual(1);
      // Still alive: an orchestrator must not restart the gateway because a subgraph is down.
      expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
      walletLink.mode = 'pass';
      expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    } finally {
      await gateway.close();
      await walletLink.close();
    }
  });
});
