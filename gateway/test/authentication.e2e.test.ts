// Tokens and trust: a bad token is refused at the gateway with 401 before any subgraph is
// called, and a subgraph called directly, past the gateway, gives nothing protected away.
//
// Every hostile token below is otherwise valid (issued now, not expired, our issuer, audience
// and key id) and carries one fault; the same token built without that fault is accepted, so
// a refusal can only come from the fault the test names. The key-set tests run their own
// gateway against a key set they publish, so they start with a cold cache and count fetches.

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer as createAccounts } from '@giftpay/accounts';
import { loadConfig as loadAccountsConfig } from '@giftpay/accounts/config';
import { listen, SERVICE_TOKEN_HEADER } from '@giftpay/common';
import {
  claimsOf,
  createTestDatabase,
  headerOf,
  newSigningKey,
  nowSeconds,
  type SignedIn,
  type SigningKey,
  type Stack,
  signingKeyOf,
  signToken,
  startFaultyProxy,
  startGateway,
  startKeySetServer,
  startStack,
  type TokenHeader,
  unsignedToken,
  validClaims,
  waitUntil,
  withPayload,
} from '@giftpay/testing';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

let stack: Stack;
let user: SignedIn;
let realKey: SigningKey;
let subgraphRequests = 0;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  user = await stack.signUp();
  realKey = await signingKeyOf(createPrivateKey(String(stack.env.JWT_PRIVATE_KEY)));
  for (const running of [stack.accounts, stack.wallet, stack.giftCards]) {
    running.server.server.on('request', (request) => {
      if (request.url?.startsWith('/graphql')) subgraphRequests += 1;
    });
  }
});

afterAll(async () => {
  await stack?.close();
});

async function ask(token: string, url = stack.gatewayUrl, query = '{ me { id } }') {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: { me?: { id: string } | null }; errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: response.status, body };
}

/** Our header: the real key's id and the algorithm accounts signs with. */
function header(overrides: Partial<TokenHeader> = {}): TokenHeader {
  return { alg: 'EdDSA', typ: 'JWT', kid: realKey.kid, ...overrides };
}

function signedByUs(claims: JWTPayload, headerOverrides: Partial<TokenHeader> = {}): Promise<string> {
  return signToken(header(headerOverrides), claims, realKey.privateKey);
}

interface HostileToken {
  /** The token with its one fault. */
  readonly faulty: () => Promise<string>;
  /** The same token built correctly. */
  readonly correct: () => Promise<string>;
  /** What the 401 says: the fault, not some other rule. */
  readonly reason: RegExp;
}

const admin = () => validClaims(user.userId, { roles: ['user', 'admin'] });

const hostileTokens: Record<string, HostileToken> = {
  'alg none': {
    faulty: async () => unsignedToken(header({ alg: 'none' }), admin()),
    correct: () => signedByUs(admin()),
    reason: /algorithm/,
  },
  'HS256 signed with the public key': {
    faulty: () => {
      const publicPem = createPublicKey(realKey.privateKey).export({ type: 'spki', format: 'pem' }).toString();
      return signToken(header({ alg: 'HS256' }), admin(), new TextEncoder().encode(publicPem));
    },
    correct: () => signedByUs(admin()),
    reason: /algorithm/,
  },
  'a key that is not in the key set': {
    faulty: async () => signToken(header({ kid: 'someone-else' }), admin(), (await newSigningKey()).privateKey),
    correct: () => signedByUs(admin()),
    reason: /not signed by a key this API trusts/,
  },
  'another key under our key id (a forged signature)': {
    faulty: async () => signToken(header(), admin(), (await newSigningKey()).privateKey),
    correct: () => signedByUs(admin()),
    reason: /signature is invalid/,
  },
  'a tampered payload (roles raised after signing)': {
    faulty: async () => withPayload(user.token, { ...claimsOf(user.token), roles: ['user', 'admin'] }),
    correct: async () => signToken(headerOf(user.token), { ...claimsOf(user.token), roles: ['user', 'admin'] }, realKey.privateKey),
    reason: /signature is invalid/,
  },
  'no key id': {
    faulty: () => signToken({ alg: 'EdDSA', typ: 'JWT' }, admin(), realKey.privateKey),
    correct: () => signedByUs(admin()),
    reason: /no signing key \(kid\)/,
  },
  'an expiry a minute ago': {
    faulty: () => signedByUs(validClaims(user.userId, { iat: nowSeconds() - 600, exp: nowSeconds() - 60 })),
    correct: () => signedByUs(validClaims(user.userId, { iat: nowSeconds() - 600, exp: nowSeconds() + 60 })),
    reason: /expired/,
  },
  'no expiry at all': {
    faulty: () => {
      const { exp: _exp, ...claims } = validClaims(user.userId);
      return signedByUs(claims);
    },
    correct: () => signedByUs(validClaims(user.userId)),
    reason: /exp claim/,
  },
  'a start an hour from now (nbf)': {
    faulty: () => signedByUs(validClaims(user.userId, { nbf: nowSeconds() + 3600 })),
    correct: () => signedByUs(validClaims(user.userId, { nbf: nowSeconds() })),
    reason: /nbf claim/,
  },
  'the wrong issuer': {
    faulty: () => signedByUs(validClaims(user.userId, { iss: 'https://evil.example' })),
    correct: () => signedByUs(validClaims(user.userId)),
    reason: /iss claim/,
  },
  'the wrong audience': {
    faulty: () => signedByUs(validClaims(user.userId, { aud: 'another-api' })),
    correct: () => signedByUs(validClaims(user.userId)),
    reason: /aud claim/,
  },
  'an issue date older than the maximum token age (though not expired)': {
    faulty: () => signedByUs(validClaims(user.userId, { iat: nowSeconds() - 2 * 86_400, exp: nowSeconds() + 3600 })),
    correct: () => signedByUs(validClaims(user.userId, { iat: nowSeconds() - 86_400 + 120, exp: nowSeconds() + 3600 })),
    reason: /expired/,
  },
};

describe('the gateway refuses a bad token with 401 before any subgraph is called', () => {
  it.each(Object.keys(hostileTokens))('refuses a token with %s', async (name) => {
    const hostile = hostileTokens[name] as HostileToken;
    const before = subgraphRequests;
    const result = await ask(await hostile.faulty());
    expect(result.status).toBe(401);
    expect(result.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(result.body.errors?.[0]?.message).toMatch(hostile.reason);
    expect(result.body.data).toBeUndefined();
    expect(subgraphRequests).toBe(before);
  });

  it.each(Object.keys(hostileTokens))('accepts the same token built without %s', async (name) => {
    const hostile = hostileTokens[name] as HostileToken;
    const before = subgraphRequests;
    const result = await ask(await hostile.correct());
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data?.me?.id).toBe(user.userId);
    expect(subgraphRequests).toBeGreaterThan(before);
  });

  it('refuses a token that is not a JWT at all', async () => {
    const before = subgraphRequests;
    const result = await ask('not.a.jwt');
    expect(result.status).toBe(401);
    expect(result.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(subgraphRequests).toBe(before);
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    const result = await stack.graphql('{ me { id } }', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(result.status).toBe(401);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a token sent in the URL instead of the header', async () => {
    const before = subgraphRequests;
    const response = await fetch(`${stack.gatewayUrl}/graphql?access_token=${user.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('UNAUTHENTICATED');
    expect(subgraphRequests).toBe(before);
  });

  it('accepts the token accounts issued', async () => {
    const real = await stack.graphql<{ me: { id: string } }>('{ me { id } }', { token: user.token });
    expect(real.status).toBe(200);
    expect(real.data?.me.id).toBe(user.userId);
    expect(headerOf(user.token).kid).toBe(realKey.kid);
  });
});

describe('a real token with a short life', () => {
  it('passes until its expiry (JWT_TTL_SECONDS=60), and after it gets 401 UNAUTHENTICATED', async () => {
    // Accounts as configured with a one-minute token, signing with the stack's key.
    const config = loadAccountsConfig({ ...stack.env, JWT_TTL_SECONDS: '60', ACCOUNTS_PORT: '0' });
    const shortLived = await createAccounts({ config });
    const listening = await listen(shortLived.server, 0, '127.0.0.1');
    try {
      const response = await fetch(`${listening.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation ($input: LogInInput!) { logIn(input: $input) { token expiresIn } }',
          variables: { input: { username: user.username, password: 'a-long-enough-password' } },
        }),
      });
      const { token, expiresIn } = ((await response.json()) as { data: { logIn: { token: string; expiresIn: number } } }).data.logIn;
      expect(expiresIn).toBe(60);
      const { iat = 0, exp = 0 } = claimsOf(token);
      expect(exp - iat).toBe(60);
      // The gateway and the subgraphs run in this process: their clocks are the one set here.
      vi.setSystemTime((exp - 1) * 1000);
      const before = await ask(token);
      expect(before.status).toBe(200);
      expect(before.body.data?.me?.id).toBe(user.userId);
      vi.setSystemTime((exp + config.jwt.clockToleranceSeconds + 1) * 1000);
      const requestsBefore = subgraphRequests;
      const after = await ask(token);
      expect(after.status).toBe(401);
      expect(after.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(after.body.errors?.[0]?.message).toMatch(/expired/);
      expect(subgraphRequests).toBe(requestsBefore);
    } finally {
      vi.useRealTimers();
      await listening.close();
      await shortLived.close();
    }
  });
});

describe('the key set', () => {
  /** A gateway of its own (a cold cache) that trusts a key set the test publishes. */
  async function gatewayWithKeySet(keys: readonly SigningKey[]) {
    const keySet = await startKeySetServer(keys.map((key) => key.jwk));
    const gateway = await startGateway({ ...stack.env, JWKS_URL: keySet.url });
    return {
      keySet,
      gateway,
      async close() {
        await gateway.close();
        await keySet.close();
      },
    };
  }

  const signedBy = (key: SigningKey) => signToken({ alg: 'EdDSA', typ: 'JWT', kid: key.kid }, validClaims(user.userId), key.privateKey);

  it('is fetched exactly once by a gateway that starts cold, even for first requests that arrive together, and then served from the cache', async () => {
    const { keySet, gateway, close } = await gatewayWithKeySet([realKey]);
    try {
      // Whether the gateway fetches at start or on its first request, the first requests share one fetch.
      const first = await Promise.all(Array.from({ length: 5 }, () => ask(user.token, gateway.url)));
      expect(first.map((result) => result.status)).toEqual([200, 200, 200, 200, 200]);
      expect(keySet.fetches).toBe(1);
      for (let i = 0; i < 10; i += 1) expect((await ask(user.token, gateway.url)).status).toBe(200);
      expect(keySet.fetches).toBe(1);
    } finally {
      await close();
    }
  });

  it('is looked for from the start on: a gateway that starts before the key set can be reached is not ready, answers SERVICE_UNAVAILABLE, then fetches it by itself', async () => {
    const keySet = await startKeySetServer([realKey.jwk]);
    const link = await startFaultyProxy(keySet.url.replace(/\/jwks\.json$/, ''));
    link.mode = 'refuse';
    const gateway = await startGateway({ ...stack.env, JWKS_URL: `${link.url}/jwks.json` });
    try {
      // Its own retries, with no request or health check asking yet.
      await link.waitFor('refused', 3, 10_000);
      expect((await fetch(`${gateway.url}/health`)).status).toBe(503);
      expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
      const early = await ask(user.token, gateway.url);
      expect(early.body.errors?.map((error) => error.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(keySet.fetches).toBe(0);
      link.mode = 'pass';
      await link.waitFor('forwarded', 1, 10_000);
      await waitUntil('the gateway ready', async () => (await fetch(`${gateway.url}/health`)).status === 200, { timeoutMs: 10_000 });
      expect((await ask(user.token, gateway.url)).status).toBe(200);
      expect(keySet.fetches).toBe(1);
    } finally {
      await gateway.close();
      await link.close();
      await keySet.close();
    }
  });

  it('is fetched again for an unknown key id at most once per cooldown (30 s)', async () => {
    const { keySet, gateway, close } = await gatewayWithKeySet([realKey]);
    const start = Date.now();
    vi.setSystemTime(start);
    try {
      expect((await ask(user.token, gateway.url)).status).toBe(200);
      expect(keySet.fetches).toBe(1);
      const unknownKeys = (count: number) => Promise.all(Array.from({ length: count }, (_, i) => newSigningKey(`unknown-${i}`)));
      for (const key of await unknownKeys(8)) expect((await ask(await signedBy(key), gateway.url)).status).toBe(401);
      expect(keySet.fetches).toBe(1);
      vi.setSystemTime(start + 31_000);
      for (const key of await unknownKeys(8)) expect((await ask(await signedBy(key), gateway.url)).status).toBe(401);
      expect(keySet.fetches).toBe(2);
      vi.setSystemTime(start + 62_000);
      for (const key of await unknownKeys(8)) expect((await ask(await signedBy(key), gateway.url)).status).toBe(401);
      expect(keySet.fetches).toBe(3);
    } finally {
      vi.useRealTimers();
      await close();
    }
  });

  it('accepts tokens signed by a newly published key after exactly one fetch, and still those of the old key (rotation)', async () => {
    const { keySet, gateway, close } = await gatewayWithKeySet([realKey]);
    const next = await newSigningKey();
    const start = Date.now();
    vi.setSystemTime(start);
    try {
      expect((await ask(user.token, gateway.url)).status).toBe(200);
      expect(keySet.fetches).toBe(1);
      keySet.publish([realKey.jwk, next.jwk]);
      // Within the cooldown of the last fetch the new key is not looked for yet.
      expect((await ask(await signedBy(next), gateway.url, '{ __typename }')).status).toBe(401);
      expect(keySet.fetches).toBe(1);
      vi.setSystemTime(start + 31_000);
      // Only the gateway knows the new key, so the query stays at the gateway.
      const rotated = await ask(await signedBy(next), gateway.url, '{ __typename }');
      expect(rotated.status).toBe(200);
      expect(rotated.body.data).toEqual({ __typename: 'Query' });
      expect(keySet.fetches).toBe(2);
      expect((await ask(await signedBy(next), gateway.url, '{ __typename }')).status).toBe(200);
      expect((await ask(user.token, gateway.url)).status).toBe(200);
      expect(keySet.fetches).toBe(2);
    } finally {
      vi.useRealTimers();
      await close();
    }
  });
});

describe('a subgraph called directly trusts nothing it did not verify', () => {
  async function direct(url: string, query: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
  }

  it("refuses to resolve a wallet by its owner without a token, and refuses another user's wallet", async () => {
    const query = `{ _entities(representations: [{ __typename: "Wallet", ownerId: "${user.userId}" }]) { ... on Wallet { balance { amount } } } }`;
    const anonymous = await direct(stack.wallet.listening.url, query);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const other = await stack.signUp();
    const asOther = await direct(stack.wallet.listening.url, query, { authorization: `Bearer ${other.token}` });
    expect(asOther.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const asOwner = await direct(stack.wallet.listening.url, query, { authorization: `Bearer ${user.token}` });
    expect(asOwner.body.data).toEqual({ _entities: [{ balance: { amount: '0' } }] });
  });

  it("gives a user's gift-card redemptions to that user and an admin only: another user gets FORBIDDEN, no token UNAUTHENTICATED, and neither sees them", async () => {
    const owner = await stack.signUp();
    const { code } = await stack.issueGiftCard({ amount: '4321' });
    const activated = await stack.graphql<{ activateGiftCard: { redemption: { id: string } } }>(
      'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id } } }',
      { token: owner.token, variables: { code } },
    );
    const redemptionId = activated.data?.activateGiftCard.redemption.id as string;
    expect(redemptionId).toBeTruthy();
    const query = `{ _entities(representations: [{ __typename: "User", id: "${owner.userId}" }]) {
      ... on User { giftCardRedemptions { edges { node { id amount { amount } } } } } } }`;
    const url = stack.giftCards.listening.url;
    const other = await stack.signUp();
    const admin = await stack.logInAdmin();

    const asOwner = await direct(url, query, { authorization: `Bearer ${owner.token}` });
    expect(asOwner.body.data).toEqual({ _entities: [{ giftCardRedemptions: { edges: [{ node: { id: redemptionId, amount: { amount: '4321' } } }] } }] });
    const asAdmin = await direct(url, query, { authorization: `Bearer ${admin.token}` });
    expect(asAdmin.body.data).toEqual(asOwner.body.data);

    const asOther = await direct(url, query, { authorization: `Bearer ${other.token}` });
    expect(asOther.body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const anonymous = await direct(url, query);
    expect(anonymous.body.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    for (const refused of [asOther, anonymous]) {
      expect(refused.text).not.toContain(redemptionId);
      expect(refused.text).not.toContain('4321');
    }
  });

  it('refuses a forged token at the subgraph too', async () => {
    const forged = await signToken(header(), validClaims(user.userId, { roles: ['user', 'admin'] }), (await newSigningKey()).privateKey);
    const result = await direct(stack.giftCards.listening.url, '{ giftCards { edges { node { id } } } }', { authorization: `Bearer ${forged}` });
    expect(result.status).toBe(401);
    expect(result.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // The same claims signed with the real key are an admin's, and list the cards.
    const genuine = await direct(stack.giftCards.listening.url, '{ giftCards { edges { node { id } } } }', {
      authorization: `Bearer ${await signedByUs(validClaims(user.userId, { roles: ['user', 'admin'] }))}`,
    });
    expect(genuine.status).toBe(200);
    expect(genuine.body.errors).toBeUndefined();
  });

  it('refuses the internal credit without the service credential, or with a wrong one', async () => {
    const body = JSON.stringify({ ownerId: user.userId, amountMinor: '1000', currencyCode: 'IRR', description: 'free money', idempotencyKey: 'x' });
    const url = `${stack.wallet.listening.url}/internal/credits`;
    const missing = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(missing.status).toBe(401);
    const wrong = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', [SERVICE_TOKEN_HEADER]: 'guess'.repeat(10) }, body });
    expect(wrong.status).toBe(401);
    const asUser = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` }, body });
    expect(asUser.status).toBe(401);
    const balance = await stack.graphql<{ me: { wallet: { balance: { amount: string } } } }>('{ me { wallet { balance { amount } } } }', { token: user.token });
    expect(balance.data?.me.wallet.balance.amount).toBe('0');
  });

  it('refuses an internal credit amount beyond a 64-bit integer with 400, even with the credential', async () => {
    const response = await fetch(`${stack.wallet.listening.url}/internal/credits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SERVICE_TOKEN_HEADER]: String(stack.env.INTERNAL_API_TOKEN) },
      body: JSON.stringify({ ownerId: user.userId, amountMinor: '9999999999999999999', currencyCode: 'IRR', description: 'overflow', idempotencyKey: 'big' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('does not expose the internal credit through the gateway', async () => {
    const viaPath = await fetch(`${stack.gatewayUrl}/internal/credits`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(viaPath.status).toBe(404);
    const schema = await stack.graphql<{ __schema: { mutationType: { fields: { name: string }[] } } }>('{ __schema { mutationType { fields { name } } } }');
    const names = schema.data?.__schema.mutationType.fields.map((field) => field.name) ?? [];
    expect(names).toContain('activateGiftCard');
    expect(names.some((name) => /credit/i.test(name))).toBe(false);
    const ownerId = await stack.graphql('{ me { wallet { ownerId } } }', { token: user.token });
    expect(ownerId.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
