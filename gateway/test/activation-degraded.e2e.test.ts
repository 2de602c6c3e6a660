// A winner is told they won even when the wallet cannot answer: the activation still carries
// the redemption, with `wallet: null` and one SERVICE_UNAVAILABLE error naming the wallet; a
// winner's balance comes with the credit, so the gateway need not reach the wallet subgraph;
// and a credit that missed its first try is retried at once in the background, so it lands
// within seconds instead of after the relay's lease.

import { createTestDatabase, type Stack, sleep, startFaultyProxy, startGateway, startStack, type TestDatabase, waitUntil } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;

/** The quick retries' delays (CREDIT_RETRY_DELAYS_MS) and how long a credit call may take (WALLET_CREDIT_TIMEOUT_MS). */
const RETRY_DELAYS_MS = [100, 300];
const CREDIT_TIMEOUT_MS = 1000;

beforeAll(async () => {
  database = await createTestDatabase();
  // The relay stays off and its lease long: only the quick retries can deliver a missed credit.
  stack = await startStack({
    databaseUrl: database.url,
    faultyWalletLink: true,
    env: { WALLET_CREDIT_TIMEOUT_MS: String(CREDIT_TIMEOUT_MS), CREDIT_RETRY_DELAYS_MS: RETRY_DELAYS_MS.join(','), CREDIT_RELAY_LEASE_MS: '600000' },
  });
});

afterAll(async () => {
  await stack?.close();
});

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id status } wallet { balance { amount } } } }';

interface Activation {
  activateGiftCard: { redemption: { id: string; status: string }; wallet: { balance: { amount: string } } | null } | null;
}

async function redemptionRow(id: string) {
  const [row] = await database.sql`select status, attempts from gift_cards.redemptions where id = ${id}`;
  return row;
}

describe('activating while the wallet cannot answer', () => {
  it('answers with the redemption, wallet null and one SERVICE_UNAVAILABLE error naming the wallet, and nothing else missing', async () => {
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    const { code } = await stack.issueGiftCard({ amount: '40' });
    const user = await stack.signUp();
    // Neither the credit nor the read of the balance reaches the wallet.
    const refusedBefore = link.counts.refused;
    link.mode = 'refuse';
    let id = '';
    try {
      const answer = await stack.graphql<Activation>(ACTIVATE, { token: user.token, variables: { code } });
      id = answer.data?.activateGiftCard?.redemption.id as string;
      expect(answer.data?.activateGiftCard?.redemption.status).toBe('PENDING');
      expect(answer.data?.activateGiftCard?.wallet).toBeNull();
      expect(answer.errors).toHaveLength(1);
      expect(answer.errors?.[0]).toMatchObject({ path: ['activateGiftCard', 'wallet'], extensions: { code: 'SERVICE_UNAVAILABLE', service: 'wallet' } });
      // The credit, then the read of the balance.
      expect(link.counts.refused - refusedBefore).toBe(2);
      // The retry a client might send tells the truth: this user already holds the card.
      const again = await stack.graphql<Activation>(ACTIVATE, { token: user.token, variables: { code } });
      expect(again.errors?.[0]?.extensions?.code).toBe('GIFT_CARD_ALREADY_REDEEMED');
    } finally {
      link.mode = 'pass';
    }
    // The link mended, a quick retry delivers the credit, once (and no retry of this test's is
    // left to pass through the link during the next one).
    await waitUntil('the quick retry to credit', async () => (await redemptionRow(id))?.status === 'CREDITED');
    const [credits] = await database.sql`select count(*)::int as n from wallet.ledger_entries where idempotency_key = ${`gift-card-redemption:${id}`}`;
    expect(credits?.n).toBe(1);
  });

  it("answers a winner's balance from the credit itself: the gateway does not ask the wallet subgraph, which may be out of its reach", async () => {
    const { code } = await stack.issueGiftCard({ amount: '40' });
    const user = await stack.signUp();
    // A gateway of its own whose link to the wallet subgraph refuses everything, while
    // gift-cards still reaches the wallet (and credits) directly.
    const walletLink = await startFaultyProxy(stack.wallet.listening.url);
    const gateway = await startGateway({ ...stack.env, WALLET_URL: walletLink.url });
    walletLink.mode = 'refuse';
    const credits = stack.walletLink;
    if (!credits) throw new Error('no faulty link');
    const bodiesBefore = credits.forwardedBodies.length;
    try {
      const ask = (query: string, variables: Record<string, unknown>) =>
        fetch(`${gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
          body: JSON.stringify({ query, variables }),
        }).then((response) => response.json() as Promise<{ data?: Activation; errors?: { path?: unknown[]; extensions?: Record<string, unknown> }[] }>);
      const answer = await ask(ACTIVATE, { code });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.activateGiftCard?.redemption.status).toBe('CREDITED');
      expect(answer.data?.activateGiftCard?.wallet).toEqual({ balance: { amount: '40' } });
      expect(walletLink.counts.received).toBe(0);
      // gift-cards called the wallet once for this user, for the credit, whose answer carried
      // the balance. (Only this user's calls: another test's quick retries may pass here too.)
      const calls = credits.forwardedBodies.slice(bodiesBefore).filter((body) => body.includes(`"ownerId":"${user.userId}"`));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toContain('"idempotencyKey"');

      // A wallet field gift-cards does not provide still comes from the wallet subgraph: here
      // out of reach, so the wallet is null with SERVICE_UNAVAILABLE naming it.
      const { code: second } = await stack.issueGiftCard({ amount: '2' });
      const withId = await ask(
        'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } wallet { id balance { amount } } } }',
        {
          code: second,
        },
      );
      expect(withId.data?.activateGiftCard?.redemption.status).toBe('CREDITED');
      expect(withId.data?.activateGiftCard?.wallet).toBeNull();
      expect(withId.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', service: 'wallet' });
      expect(walletLink.counts.refused).toBeGreaterThan(0);
    } finally {
      await gateway.close();
      await walletLink.close();
    }
  });
});

describe('a credit that missed its first try', () => {
  it('is retried at once in the background and lands once, without waiting for the relay', async () => {
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    const { code } = await stack.issueGiftCard({ amount: '25' });
    const user = await stack.signUp();
    // This user's calls through the link (another test's background retries may pass too).
    const bodiesBefore = link.forwardedBodies.length;
    const forwardedForUser = () => link.forwardedBodies.slice(bodiesBefore).filter((body) => body.includes(`"ownerId":"${user.userId}"`)).length;
    link.mode = 'refuse';
    let answer: Awaited<ReturnType<typeof stack.graphql<Activation>>>;
    try {
      answer = await stack.graphql<Activation>(ACTIVATE, { token: user.token, variables: { code } });
      expect(answer.data?.activateGiftCard?.redemption.status).toBe('PENDING');
      expect(forwardedForUser()).toBe(0);
    } finally {
      link.mode = 'pass';
    }
    const id = answer.data?.activateGiftCard?.redemption.id as string;
    await waitUntil('the quick retry to credit', async () => (await redemptionRow(id))?.status === 'CREDITED');
    // The refused first try (and perhaps the first quick retry, if it fired before the link
    // was mended), then exactly one delivery that reached the wallet.
    const row = await redemptionRow(id);
    expect(row?.status).toBe('CREDITED');
    expect([1, 2]).toContain(row?.attempts);
    expect(forwardedForUser()).toBe(1);
    const [credits] = await database.sql`select count(*)::int as n, sum(amount)::bigint as total from wallet.ledger_entries
      where idempotency_key = ${`gift-card-redemption:${id}`}`;
    expect({ n: credits?.n, total: BigInt(credits?.total) }).toEqual({ n: 1, total: 25n });
    const balance = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
    expect(balance.data?.me.wallet.balance.amount).toBe('25');
  });

  it('gives up the quick retries after the configured ones, leaving the credit to the relay', async () => {
    const link = stack.walletLink;
    if (!link) throw new Error('no faulty link');
    const { code } = await stack.issueGiftCard({ amount: '15' });
    const user = await stack.signUp();
    link.mode = 'refuse';
    try {
      const answer = await stack.graphql<Activation>(ACTIVATE, { token: user.token, variables: { code } });
      const id = answer.data?.activateGiftCard?.redemption.id as string;
      // This credit's calls the link refused (other tests' background retries may pass too).
      const refusedCalls = async () => (await link.bodies('refused')).filter((body) => body.includes(`"gift-card-redemption:${id}"`)).length;
      // The first try and the two quick retries (100 ms, then 300 ms later) are all refused.
      await waitUntil('three failed attempts', async () => (await redemptionRow(id))?.attempts === 3);
      // A fourth would reach the link within a retry delay of the third's failure and be
      // recorded within a credit call's timeout: nothing for that long (and a margin) means
      // the retries are over. Proving that nothing comes needs the wait itself, not a poll.
      await sleep(Math.max(...RETRY_DELAYS_MS) + CREDIT_TIMEOUT_MS + 500);
      expect(await refusedCalls()).toBe(3);
      expect(await redemptionRow(id)).toEqual({ status: 'PENDING', attempts: 3 });
    } finally {
      link.mode = 'pass';
    }
  });
});
