// The credit saga when the wallet fails: the claim is answered (PENDING), nothing is
// credited twice, and the relay delivers every owed credit once the wallet is back, also
// after a restart of the gift-cards service and with two relays racing.

import { listen } from '@giftpay/common';
import { createServer as createGiftCards } from '@giftpay/gift-cards';
import { loadConfig as loadGiftCardsConfig } from '@giftpay/gift-cards/config';
import { createTestDatabase, type SignedIn, type Stack, startStack, type TestDatabase } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, env: { WALLET_CREDIT_TIMEOUT_MS: '500' } });
});

afterAll(async () => {
  await stack?.close();
});

async function issuePromotion(amount: string, usageLimit: number): Promise<string> {
  return (await stack.issueGiftCard({ amount, usageLimit })).code;
}

async function stopWallet(): Promise<number> {
  const { port } = stack.wallet.listening;
  await stack.wallet.listening.close();
  stack.wallet.server.server.closeAllConnections();
  return port;
}

async function restartWallet(port: number): Promise<void> {
  const listening = await listen(stack.wallet.server.server, port, '127.0.0.1');
  Object.assign(stack.wallet, { listening });
}

/** Makes every owed credit due now, instead of waiting out the lease or backoff. */
async function makeOwedCreditsDue(): Promise<void> {
  await database.sql`update gift_cards.redemptions set next_attempt_at = now() where status = 'PENDING'`;
}

async function balanceOf(user: SignedIn): Promise<string | undefined> {
  const result = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
  return result.data?.me.wallet.balance.amount;
}

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id status } giftCard { redemptionCount } } }';

describe('when the wallet is down', () => {
  it('answers every claim as PENDING, then credits each exactly once when the wallet is back', async () => {
    const code = await issuePromotion('300', 10);
    const users = await Promise.all(Array.from({ length: 12 }, () => stack.signUp()));
    const port = await stopWallet();
    const results = await Promise.all(
      users.map((user) => stack.graphql<{ activateGiftCard: { redemption: { status: string } } }>(ACTIVATE, { token: user.token, variables: { code } })),
    );
    expect(results.filter((result) => result.data?.activateGiftCard.redemption.status === 'PENDING')).toHaveLength(10);
    expect(results.filter((result) => result.errors?.[0]?.extensions?.code === 'GIFT_CARD_USED_UP')).toHaveLength(2);

    // The wallet is back but the relay has not run: nobody has been credited yet.
    await restartWallet(port);
    expect(await Promise.all(users.map(balanceOf))).toEqual(Array(12).fill('0'));

    await makeOwedCreditsDue();
    expect(await stack.giftCards.server.redemptions.relayOnce()).toBe(10);
    expect(await stack.giftCards.server.redemptions.pendingCount()).toBe(0);
    const balances = await Promise.all(users.map(balanceOf));
    expect(balances.filter((amount) => amount === '300')).toHaveLength(10);
    expect(balances.filter((amount) => amount === '0')).toHaveLength(2);

    // Nothing more to do, and nothing is credited twice when the relay runs again.
    await database.sql`update gift_cards.redemptions set next_attempt_at = now()`;
    expect(await stack.giftCards.server.redemptions.relayOnce()).toBe(0);
    const [credits] = await database.sql`select count(*)::int as n, sum(amount)::bigint as total from wallet.ledger_entries where operation = 'credit'`;
    expect(credits?.n).toBe(10);
    expect(BigInt(credits?.total)).toBe(3000n);
  });

  it('shows the redemption as CREDITED in the user’s history once delivered', async () => {
    const code = await issuePromotion('50', 1);
    const user = await stack.signUp();
    const port = await stopWallet();
    const claim = await stack.graphql<{ activateGiftCard: { redemption: { id: string; status: string } } }>(ACTIVATE, {
      token: user.token,
      variables: { code },
    });
    expect(claim.data?.activateGiftCard.redemption.status).toBe('PENDING');
    await restartWallet(port);
    await makeOwedCreditsDue();
    await stack.giftCards.server.redemptions.relayOnce();
    const history = await stack.graphql<{ me: { giftCardRedemptions: { edges: { node: { id: string; status: string } }[] } } }>(
      '{ me { giftCardRedemptions { edges { node { id status } } } } }',
      { token: user.token },
    );
    expect(history.data?.me.giftCardRedemptions.edges.map((edge) => edge.node)).toEqual([
      { id: claim.data?.activateGiftCard.redemption.id, status: 'CREDITED' },
    ]);
    expect(await balanceOf(user)).toBe('50');
  });
});

describe('owed credits survive the gift-cards service', () => {
  it('delivers credits owed before a restart, once, even with two relays racing', async () => {
    const code = await issuePromotion('70', 5);
    const users = await Promise.all(Array.from({ length: 5 }, () => stack.signUp()));
    const port = await stopWallet();
    for (const user of users) await stack.graphql(ACTIVATE, { token: user.token, variables: { code } });
    await restartWallet(port);

    // Two new gift-cards replicas on the same database, as after a restart with scale-out.
    const config = loadGiftCardsConfig({ ...stack.env, GIFT_CARDS_PORT: '0' });
    const replicaA = await createGiftCards({ config, startRelay: false });
    const replicaB = await createGiftCards({ config, startRelay: false });
    try {
      await makeOwedCreditsDue();
      const [a, b] = await Promise.all([replicaA.redemptions.relayOnce(), replicaB.redemptions.relayOnce()]);
      expect(a + b).toBe(5);
      // A delivery sent twice (the lease ran out mid-flight) is still one credit: the wallet's key holds.
      await database.sql`update gift_cards.redemptions set status = 'PENDING', next_attempt_at = now() where id in (
        select id from gift_cards.redemptions where user_id = ${users[0]?.userId ?? ''})`;
      expect(await replicaB.redemptions.relayOnce()).toBe(1);
    } finally {
      await replicaA.close();
      await replicaB.close();
    }
    for (const user of users) expect(await balanceOf(user)).toBe('70');
  });
});

describe('/health', () => {
  it('answers 200 when every subgraph is ready and 503 while one is down', async () => {
    expect((await fetch(`${stack.gatewayUrl}/health`)).status).toBe(200);
    const port = await stopWallet();
    try {
      const down = await fetch(`${stack.gatewayUrl}/health`);
      expect(down.status).toBe(503);
      // Still alive: an orchestrator must not restart the gateway because a subgraph is down.
      expect((await fetch(`${stack.gatewayUrl}/health/live`)).status).toBe(200);
    } finally {
      await restartWallet(port);
    }
    expect((await fetch(`${stack.gatewayUrl}/health`)).status).toBe(200);
  });
});
