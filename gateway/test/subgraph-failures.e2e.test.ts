// Subgraph calls that fail well: when a subgraph is down or slower than its deadline, the
// parts of the answer from healthy subgraphs still arrive, with a clear error for the
// missing part and nothing internal; and the request id travels to every subgraph.

import { listen } from '@giftpay/common';
import { createServer as createGateway, type GatewayServer } from '@giftpay/gateway';
import { loadConfig as loadGatewayConfig } from '@giftpay/gateway/config';
import { createTestDatabase, type FaultyProxy, type SignedIn, type Stack, startFaultyProxy, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let admin: SignedIn;
let link: FaultyProxy;
let gateway: GatewayServer;
let gatewayUrl: string;
let closeGateway: () => Promise<void>;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  admin = await stack.logInAdmin();
  // A second gateway that reaches gift-cards through a link that can hang, with a short deadline.
  link = await startFaultyProxy(stack.giftCards.listening.url);
  gateway = await createGateway({ config: loadGatewayConfig({ ...stack.env, GIFT_CARDS_URL: link.url, SUBGRAPH_TIMEOUT_MS: '300', GATEWAY_PORT: '0' }) });
  const listening = await listen(gateway.server, 0, '127.0.0.1');
  gatewayUrl = listening.url;
  closeGateway = async () => {
    await listening.close();
    await gateway.close();
  };
});

afterAll(async () => {
  await closeGateway?.();
  await link?.close();
  await stack?.close();
});

const QUERY = '{ me { username } giftCard(id: "00000000-0000-0000-0000-000000000000") { id } }';

async function ask(query: string) {
  const response = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}` },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: JSON.parse(text) as {
      data: { me: { username: string } | null; giftCard: unknown } | null;
      errors?: { message: string; path?: string[]; extensions: Record<string, unknown> }[];
    },
  };
}

describe('a subgraph that fails', () => {
  it('answers the healthy part when a subgraph does not answer in time, with a clear error for the rest', async () => {
    link.mode = 'hang';
    try {
      const result = await ask(QUERY);
      expect(result.status).toBe(200);
      expect(result.body.data?.me).toEqual({ username: 'admin' });
      expect(result.body.data?.giftCard).toBeNull();
      expect(result.body.errors?.[0]?.message).toMatch(/gift-cards service did not answer in time/);
      expect(result.body.errors?.[0]?.extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', service: 'gift-cards' });
      expect(result.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|at .*\.ts:\d+/);
    } finally {
      link.mode = 'pass';
    }
  });

  it('says the service is not reachable when it is down', async () => {
    link.mode = 'refuse';
    try {
      const result = await ask(QUERY);
      expect(result.body.data?.me).toEqual({ username: 'admin' });
      expect(result.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      link.mode = 'pass';
    }
    const port = stack.giftCards.listening.port;
    await stack.giftCards.listening.close();
    stack.giftCards.server.server.closeAllConnections();
    try {
      const result = await ask(QUERY);
      expect(result.body.data?.me).toEqual({ username: 'admin' });
      expect(result.body.errors?.[0]?.message).toMatch(/gift-cards service is not reachable/);
      expect(result.text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      Object.assign(stack.giftCards, { listening: await listen(stack.giftCards.server.server, port, '127.0.0.1') });
    }
    const healthy = await ask(QUERY);
    expect(healthy.body.errors).toBeUndefined();
  });
});

describe('the request id', () => {
  it('travels from the client through the gateway to every subgraph it calls', async () => {
    const seen: Record<string, string | undefined> = {};
    const listeners = [
      ['accounts', stack.accounts.server.server],
      ['wallet', stack.wallet.server.server],
      ['gift-cards', stack.giftCards.server.server],
    ] as const;
    const handlers = listeners.map(([name, server]) => {
      const handler = (request: { url?: string; headers: Record<string, unknown> }) => {
        if (request.url?.startsWith('/graphql')) seen[name] = request.headers['x-request-id'] as string | undefined;
      };
      server.on('request', handler);
      return () => server.off('request', handler);
    });
    try {
      await stack.graphql('{ me { username wallet { balance { amount } } giftCardRedemptions { edges { cursor } } } }', {
        token: admin.token,
        headers: { 'x-request-id': 'follow-me-42' },
      });
    } finally {
      for (const remove of handlers) remove();
    }
    expect(seen).toEqual({ accounts: 'follow-me-42', wallet: 'follow-me-42', 'gift-cards': 'follow-me-42' });
  });
});
