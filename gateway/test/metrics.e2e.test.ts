// Prometheus metrics on every service: protected by METRICS_TOKEN when set, counting real
// traffic (requests, operations by root field, errors by code, subgraph calls, activations,
// credit deliveries, the outbox), and never labelled with strings a client chooses. Counts
// are read as the change a test made (scraped before and after), so no test depends on
// what another test did first.

import { randomUUID } from 'node:crypto';
import {
  activateGiftCard,
  createTestDatabase,
  creditKeysIn,
  type FaultyProxy,
  forgetOwedCredits,
  issuePromotion,
  type Stack,
  seriesValue,
  settleOwedCredits,
  startStack,
  type TestDatabase,
  tallyActivations,
} from '@giftpay/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
let database: TestDatabase;
let stack: Stack;
let link: FaultyProxy;

beforeAll(async () => {
  database = await createTestDatabase();
  stack = await startStack({
    databaseUrl: database.url,
    faultyWalletLink: true,
    env: { METRICS_TOKEN, CREDIT_RELAY_LEASE_MS: '1000', LEDGER_REPORT_CACHE_MS: '0' },
  });
  if (!stack.walletLink) throw new Error('no faulty link');
  link = stack.walletLink;
});

afterAll(async () => {
  await stack?.close();
});

afterEach(async () => {
  await forgetOwedCredits(database.sql);
});

async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

/** How much a counter grew between two scrapes (a series not yet created counts as 0). */
function grew(before: string, after: string, name: string, labels: Record<string, string> = {}): number {
  return (seriesValue(after, name, labels) ?? 0) - (seriesValue(before, name, labels) ?? 0);
}

describe('/metrics', () => {
  it('needs the metrics token when one is set', async () => {
    for (const url of [stack.gatewayUrl, stack.wallet.listening.url]) {
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    }
  });

  it('counts activations, deliveries, errors by code and subgraph calls, and shows the outbox', async () => {
    const { code } = await stack.issueGiftCard({ amount: '10' });
    const [first, second] = [await stack.signUp(), await stack.signUp()];
    const giftCardsBefore = await scrape(stack.giftCards.listening.url);
    const gatewayBefore = await scrape(stack.gatewayUrl);
    // The wallet's id comes from the wallet subgraph: the gateway calls it too.
    const ACTIVATE = 'mutation ActivateForMetricsTest($code: String!) { activateGiftCard(input: { code: $code }) { wallet { id balance { amount } } } }';
    await stack.graphql(ACTIVATE, { token: first.token, variables: { code } });
    await stack.graphql(ACTIVATE, { token: second.token, variables: { code } });

    const giftCards = await scrape(stack.giftCards.listening.url);
    expect(grew(giftCardsBefore, giftCards, 'giftcard_activations_total', { outcome: 'claimed' })).toBe(1);
    expect(grew(giftCardsBefore, giftCards, 'giftcard_activations_total', { outcome: 'GIFT_CARD_USED_UP' })).toBe(1);
    expect(grew(giftCardsBefore, giftCards, 'giftcard_credit_deliveries_total', { result: 'credited' })).toBe(1);
    expect(grew(giftCardsBefore, giftCards, 'giftcard_credit_deliveries_total', { result: 'failed' })).toBe(0);
    // The gauge is there, and this test left nothing owed.
    const pendingBefore = seriesValue(giftCardsBefore, 'giftcard_credits_pending');
    // A count, so neither missing (undefined) nor unreadable (NaN), either of which would equal itself below.
    expect(pendingBefore).toBeGreaterThanOrEqual(0);
    expect(seriesValue(giftCards, 'giftcard_credits_pending')).toBe(pendingBefore);

    const gateway = await scrape(stack.gatewayUrl);
    expect(grew(gatewayBefore, gateway, 'graphql_errors_total', { code: 'GIFT_CARD_USED_UP' })).toBe(1);
    expect(grew(gatewayBefore, gateway, 'graphql_operation_duration_seconds_count', { operation: 'activateGiftCard', type: 'mutation' })).toBe(2);
    expect(grew(gatewayBefore, gateway, 'subgraph_request_duration_seconds_count', { subgraph: 'gift-cards', outcome: '200' })).toBeGreaterThanOrEqual(2);
    expect(grew(gatewayBefore, gateway, 'subgraph_request_duration_seconds_count', { subgraph: 'wallet', outcome: '200' })).toBeGreaterThanOrEqual(1);
    expect(grew(gatewayBefore, gateway, 'http_requests_total', { route: '/graphql', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(gateway).toContain('process_cpu_seconds_total');
    // Labels come from the schema, not from the client: its operation name never appears.
    expect(gateway).not.toContain('ActivateForMetricsTest');
  });

  it('shows the owed credits on the outbox gauge and counts the failed deliveries while the wallet is down, and the gauge falls back once they are delivered', async () => {
    try {
      const promo = await issuePromotion(stack, '10', 2);
      const users = [await stack.signUp(), await stack.signUp()];
      const before = await scrape(stack.giftCards.listening.url);
      const pendingBefore = seriesValue(before, 'giftcard_credits_pending');
      expect(pendingBefore).toBeDefined();

      link.reset();
      link.mode = 'refuse';
      const tally = tallyActivations(users, await Promise.all(users.map((user) => activateGiftCard(stack, user, promo.code))));
      expect(tally).toMatchObject({ claimed: 2, pending: 2 });
      // Both credits were refused on the way (in one call or two: credits leave in batches).
      expect(link.counts.forwarded).toBe(0);
      expect(creditKeysIn(await link.bodies('refused'))).toHaveLength(2);

      const down = await scrape(stack.giftCards.listening.url);
      expect(seriesValue(down, 'giftcard_credits_pending')).toBeGreaterThan(0);
      expect(seriesValue(down, 'giftcard_credits_pending')).toBe((pendingBefore ?? 0) + 2);
      expect(grew(before, down, 'giftcard_credit_deliveries_total', { result: 'failed' })).toBe(2);
      expect(grew(before, down, 'giftcard_credit_deliveries_total', { result: 'credited' })).toBe(0);

      link.reset();
      await settleOwedCredits(stack.giftCards.server, database.sql, promo.id);
      const back = await scrape(stack.giftCards.listening.url);
      expect(seriesValue(back, 'giftcard_credits_pending')).toBe(pendingBefore);
      expect(grew(before, back, 'giftcard_credit_deliveries_total', { result: 'credited' })).toBe(2);
      expect(grew(before, back, 'giftcard_credit_deliveries_total', { result: 'failed' })).toBe(2);
    } finally {
      link.reset();
    }
  });

  it("shows the books on the wallet's gauges: balanced at 0, and the imbalance when an entry lacks its other side", async () => {
    const user = await stack.signUp();
    const { code } = await stack.issueGiftCard({ amount: '10' });
    await activateGiftCard(stack, user, code);
    const balanced = await scrape(stack.wallet.listening.url);
    expect(seriesValue(balanced, 'wallet_ledger_imbalance', { currency: 'IRR' })).toBe(0);
    expect(seriesValue(balanced, 'wallet_ledger_balanced')).toBe(1);
    // A credit written behind the service's back, one side only.
    const [wallet] = await database.sql`select id, balance::int as balance from wallet.wallets where owner_id = ${user.userId}`;
    await database.sql.begin(async (sql) => {
      await sql`update wallet.wallets set balance = balance + 7 where id = ${wallet?.id}`;
      await sql`insert into wallet.ledger_entries (wallet_id, kind, amount, balance_after, currency_code, description, operation)
        values (${wallet?.id}, 'CREDIT', 7, ${(wallet?.balance as number) + 7}, 'IRR', 'one-sided', 'credit')`;
    });
    try {
      const off = await scrape(stack.wallet.listening.url);
      expect(seriesValue(off, 'wallet_ledger_imbalance', { currency: 'IRR' })).toBe(7);
      expect(seriesValue(off, 'wallet_ledger_balanced')).toBe(0);
    } finally {
      await database.sql`insert into wallet.system_entries (wallet_entry_id, account, currency_code, amount)
        select id, 'GIFT_CARDS', 'IRR', -7 from wallet.ledger_entries where wallet_id = ${wallet?.id} and description = 'one-sided'`;
    }
    const mended = await scrape(stack.wallet.listening.url);
    expect(seriesValue(mended, 'wallet_ledger_imbalance', { currency: 'IRR' })).toBe(0);
    expect(seriesValue(mended, 'wallet_ledger_balanced')).toBe(1);
  });

  it("counts the wallet's batches of spends, and a batch posted again alone when one of its spends is refused", async () => {
    const user = await stack.signUp();
    const { code } = await stack.issueGiftCard({ amount: '100' });
    await activateGiftCard(stack, user, code);
    const spend = (amount: string) =>
      stack.graphql('mutation ($input: SpendInput!) { spend(input: $input) { transaction { id } } }', {
        token: user.token,
        variables: { input: { amount: { amount, currencyCode: 'IRR' }, description: 'metrics', idempotencyKey: randomUUID() } },
      });
    const before = await scrape(stack.wallet.listening.url);
    // 20 spends of 10 at once from a wallet of 100: some leave together, 10 are refused.
    const answers = await Promise.all(Array.from({ length: 20 }, () => spend('10')));
    expect(answers.filter((answer) => !answer.errors).length).toBe(10);
    expect(answers.filter((answer) => answer.errors?.[0]?.extensions?.code === 'INSUFFICIENT_FUNDS').length).toBe(10);
    const after = await scrape(stack.wallet.listening.url);
    expect(grew(before, after, 'wallet_post_batch_size_count', { operation: 'spend' })).toBeGreaterThan(0);
    expect(grew(before, after, 'wallet_posted_alone_total', { reason: 'refused' })).toBeGreaterThan(0);
  });

  it('labels unknown paths as "other", so probing paths cannot grow the series', async () => {
    const before = await scrape(stack.gatewayUrl);
    for (const path of ['/wp-admin', '/random-1', '/random-2']) await fetch(`${stack.gatewayUrl}${path}`);
    const gateway = await scrape(stack.gatewayUrl);
    expect(gateway).not.toContain('/wp-admin');
    expect(grew(before, gateway, 'http_requests_total', { route: 'other', status: '404' })).toBe(3);
  });
});
