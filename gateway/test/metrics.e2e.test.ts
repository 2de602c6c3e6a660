// Prometheus metrics on every service: protected by METRICS_TOKEN when set, counting real
// traffic (requests, operations by root field, errors by code, subgraph calls, activations,
// credit deliveries, the outbox), and never labelled with strings a client chooses.

import { createTestDatabase, type Stack, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const METRICS_TOKEN = 'metrics-token-for-tests-0123456789';
let stack: Stack;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, env: { METRICS_TOKEN } });
});

afterAll(async () => {
  await stack?.close();
});

async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

/** The value of one series, e.g. `giftcard_credits_pending` or `graphql_errors_total{code="X"}` (default labels ignored). */
function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
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
    const ACTIVATE = 'mutation ActivateForMetricsTest($code: String!) { activateGiftCard(input: { code: $code }) { wallet { balance { amount } } } }';
    await stack.graphql(ACTIVATE, { token: first.token, variables: { code } });
    await stack.graphql(ACTIVATE, { token: second.token, variables: { code } });

    const giftCards = await scrape(stack.giftCards.listening.url);
    expect(seriesValue(giftCards, 'giftcard_activations_total', { outcome: 'claimed' })).toBe(1);
    expect(seriesValue(giftCards, 'giftcard_activations_total', { outcome: 'GIFT_CARD_USED_UP' })).toBe(1);
    expect(seriesValue(giftCards, 'giftcard_credit_deliveries_total', { result: 'credited' })).toBe(1);
    expect(seriesValue(giftCards, 'giftcard_credits_pending')).toBe(0);

    const gateway = await scrape(stack.gatewayUrl);
    expect(seriesValue(gateway, 'graphql_errors_total', { code: 'GIFT_CARD_USED_UP' })).toBe(1);
    expect(seriesValue(gateway, 'graphql_operation_duration_seconds_count', { operation: 'activateGiftCard', type: 'mutation' })).toBe(2);
    expect(seriesValue(gateway, 'subgraph_request_duration_seconds_count', { subgraph: 'gift-cards', outcome: '200' })).toBeGreaterThanOrEqual(2);
    expect(seriesValue(gateway, 'subgraph_request_duration_seconds_count', { subgraph: 'wallet', outcome: '200' })).toBeGreaterThanOrEqual(1);
    expect(seriesValue(gateway, 'http_requests_total', { route: '/graphql', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(4);
    expect(gateway).toContain('process_cpu_seconds_total');
    // Labels come from the schema, not from the client: its operation name never appears.
    expect(gateway).not.toContain('ActivateForMetricsTest');
  });

  it('labels unknown paths as "other", so probing paths cannot grow the series', async () => {
    for (const path of ['/wp-admin', '/random-1', '/random-2']) await fetch(`${stack.gatewayUrl}${path}`);
    const gateway = await scrape(stack.gatewayUrl);
    expect(gateway).not.toContain('/wp-admin');
    expect(seriesValue(gateway, 'http_requests_total', { route: 'other', status: '404' })).toBeGreaterThanOrEqual(3);
  });
});
