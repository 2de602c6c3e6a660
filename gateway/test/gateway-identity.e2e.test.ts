// The gateway hands each subgraph the caller it verified, next to GATEWAY_TOKEN, so the
// subgraph checks no signature again; the bearer token still goes along, so a subgraph that
// cannot believe the gateway (its credential being rotated) verifies it as before. A client
// cannot pass its own caller header through the gateway. A proxy in front of the wallet
// subgraph (the tests' FaultyProxy, passing everything) shows what the gateway sent.

import { decodePrincipal, encodePrincipal, GATEWAY_TOKEN_HEADER, PRINCIPAL_HEADER } from '@giftpay/common';
import { createTestDatabase, type ExtraGateway, type FaultyProxy, type Stack, startFaultyProxy, startGateway, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let proxy: FaultyProxy;
const gateways: ExtraGateway[] = [];

/** The headers of the GraphQL calls the wallet received through the proxy since its last reset. */
const received = () => proxy.forwardedRequests.filter((request) => request.path.startsWith('/graphql')).map((request) => request.headers);

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  proxy = await startFaultyProxy(stack.wallet.listening.url);
});

afterAll(async () => {
  for (const gateway of gateways) await gateway.close();
  await proxy?.close();
  await stack?.close();
});

async function gatewayOverProxy(env: Record<string, string> = {}): Promise<ExtraGateway> {
  const gateway = await startGateway({ ...stack.env, WALLET_URL: proxy.url, ...env });
  gateways.push(gateway);
  return gateway;
}

const BALANCE = '{ me { wallet { balance { amount } } } }';

async function ask<T>(
  gateway: ExtraGateway,
  query: string,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<{ data?: T | null; errors?: { extensions?: Record<string, unknown> }[] }> {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: T | null; errors?: { extensions?: Record<string, unknown> }[] };
}

describe('the caller the gateway verified', () => {
  it('reaches the subgraph with the gateway credential, and the token still goes along', async () => {
    const gateway = await gatewayOverProxy();
    const user = await stack.signUp();
    proxy.reset();
    const result = await ask(gateway, BALANCE, { token: user.token });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: { wallet: { balance: { amount: '0' } } } });
    expect(received()).toHaveLength(1);
    const [headers] = received();
    expect(headers?.[GATEWAY_TOKEN_HEADER]).toBe(stack.env.GATEWAY_TOKEN);
    expect(decodePrincipal(headers?.[PRINCIPAL_HEADER])).toEqual({ userId: user.userId, username: user.username, roles: ['user'] });
    expect(headers?.authorization).toBe(`Bearer ${user.token}`);
  });

  it("is the token's, whatever caller header or credential the client sends the gateway", async () => {
    const gateway = await gatewayOverProxy();
    const [alice, bob] = [await stack.signUp(), await stack.signUp()];
    const forged = {
      [PRINCIPAL_HEADER]: encodePrincipal({ userId: bob.userId, username: bob.username, roles: ['user', 'admin'] }),
      [GATEWAY_TOKEN_HEADER]: 'x'.repeat(43),
    };
    proxy.reset();
    const result = await ask<{ me: { id: string } | null }>(gateway, '{ me { id wallet { balance { amount } } } }', { token: alice.token, headers: forged });
    expect(result.data?.me?.id).toBe(alice.userId);
    for (const headers of received()) {
      expect(decodePrincipal(headers[PRINCIPAL_HEADER])?.userId).toBe(alice.userId);
      expect(headers[GATEWAY_TOKEN_HEADER]).toBe(stack.env.GATEWAY_TOKEN);
    }
    // With no token, the forged header makes nobody signed in.
    const anonymous = await ask<{ me: unknown }>(gateway, BALANCE, { headers: forged });
    expect(anonymous.data?.me ?? null).toBeNull();
  });

  it('is verified again by a subgraph that holds another credential (a rotation half done), which still serves the request', async () => {
    const gateway = await gatewayOverProxy({ GATEWAY_TOKEN: 'r'.repeat(43) });
    const user = await stack.signUp();
    proxy.reset();
    const result = await ask(gateway, BALANCE, { token: user.token });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: { wallet: { balance: { amount: '0' } } } });
    expect(received()[0]?.[GATEWAY_TOKEN_HEADER]).toBe('r'.repeat(43));
    // The wallet did not believe that gateway: a caller header it sent for someone else changes nothing.
    const other = await stack.signUp();
    const straight = await fetch(`${stack.wallet.listening.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${user.token}`,
        [GATEWAY_TOKEN_HEADER]: 'r'.repeat(43),
        [PRINCIPAL_HEADER]: encodePrincipal({ userId: other.userId, username: other.username, roles: ['user'] }),
      },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(((await straight.json()) as { data: { me: { id: string } } }).data.me.id).toBe(user.userId);
  });
});
