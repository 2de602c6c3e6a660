// Tokens and trust: a bad token is refused at the gateway with 401 before any subgraph is
// called, and a subgraph called directly, past the gateway, gives nothing protected away.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SERVICE_TOKEN_HEADER } from '@giftpay/common';
import { createTestDatabase, type SignedIn, type Stack, startStack } from '@giftpay/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let user: SignedIn;
let realKey: KeyObject;
let realKid: string;
let subgraphRequests = 0;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  user = await stack.signUp();
  realKey = createPrivateKey(String(stack.env.JWT_PRIVATE_KEY));
  realKid = JSON.parse(Buffer.from(user.token.split('.')[0] ?? '', 'base64url').toString()).kid;
  for (const running of [stack.accounts, stack.wallet, stack.giftCards]) {
    running.server.server.on('request', (request) => {
      if (request.url?.startsWith('/graphql')) subgraphRequests += 1;
    });
  }
});

afterAll(async () => {
  await stack?.close();
});

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

async function sign(options: {
  key?: KeyObject;
  kid?: string | null;
  claims?: Record<string, unknown>;
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
}): Promise<string> {
  const jwt = new SignJWT({ roles: ['user', 'admin'], ...options.claims })
    .setProtectedHeader({ alg: 'EdDSA', ...(options.kid === null ? {} : { kid: options.kid ?? realKid }) })
    .setSubject(user.userId)
    .setIssuer(options.issuer ?? 'giftpay-accounts')
    .setAudience(options.audience ?? 'giftpay-api')
    .setIssuedAt();
  jwt.setExpirationTime(options.expiresIn ?? '5m');
  return jwt.sign(options.key ?? realKey);
}

const hostileTokens: [string, () => Promise<string>][] = [
  [
    'alg none',
    async () =>
      `${base64url({ alg: 'none', typ: 'JWT', kid: realKid })}.${base64url({ sub: user.userId, roles: ['admin'], iss: 'giftpay-accounts', aud: 'giftpay-api', exp: 9e9, iat: 1 })}.`,
  ],
  [
    'HS256 signed with the public key',
    async () => {
      const publicPem = createPublicKey(realKey).export({ type: 'spki', format: 'pem' }).toString();
      return new SignJWT({ roles: ['admin'] })
        .setProtectedHeader({ alg: 'HS256', kid: realKid })
        .setSubject(user.userId)
        .setIssuer('giftpay-accounts')
        .setAudience('giftpay-api')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(publicPem));
    },
  ],
  ['a key that is not in the JWKS', () => sign({ key: generateKeyPairSync('ed25519').privateKey, kid: 'someone-else' })],
  ['another key under our key id (forged signature)', () => sign({ key: generateKeyPairSync('ed25519').privateKey })],
  ['no key id', () => sign({ kid: null })],
  ['expired', () => sign({ expiresIn: Math.floor(Date.now() / 1000) - 60 })],
  ['not yet valid', () => sign({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } })],
  ['the wrong issuer', () => sign({ issuer: 'https://evil.example' })],
  ['the wrong audience', () => sign({ audience: 'another-api' })],
  ['malformed', async () => 'not.a.jwt'],
  [
    'an issue date older than the maximum token age (though not expired)',
    () =>
      new SignJWT({ roles: ['user'] })
        .setProtectedHeader({ alg: 'EdDSA', kid: realKid })
        .setSubject(user.userId)
        .setIssuer('giftpay-accounts')
        .setAudience('giftpay-api')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 2 * 86_400)
        .setExpirationTime('1h')
        .sign(realKey),
  ],
  [
    'a tampered payload',
    async () => {
      const [header, , signature] = user.token.split('.');
      return `${header}.${base64url({ sub: user.userId, roles: ['user', 'admin'], iss: 'giftpay-accounts', aud: 'giftpay-api', exp: 9e9, iat: 1 })}.${signature}`;
    },
  ],
];

describe('the gateway refuses a bad token with 401 before any subgraph is called', () => {
  it.each(hostileTokens)('refuses a token with %s', async (_name, makeToken) => {
    const token = await makeToken();
    const before = subgraphRequests;
    const result = await stack.graphql('{ me { id roles wallet { balance { amount } } } }', { token });
    expect(result.status).toBe(401);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(result.data).toBeUndefined();
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

  it('accepts the real token and a token the test signs with the real key', async () => {
    const real = await stack.graphql<{ me: { id: string } }>('{ me { id } }', { token: user.token });
    expect(real.status).toBe(200);
    expect(real.data?.me.id).toBe(user.userId);
    const handMade = await stack.graphql<{ me: { id: string } }>('{ me { id } }', { token: await sign({}) });
    expect(handMade.data?.me.id).toBe(user.userId);
  });
});

describe('the key set', () => {
  it('is fetched once and cached, and fetched again for an unknown key id at most once per cooldown', async () => {
    let fetches = 0;
    const count = (request: { url?: string }) => {
      if (request.url === '/.well-known/jwks.json') fetches += 1;
    };
    stack.accounts.server.server.on('request', count);
    try {
      for (let i = 0; i < 10; i += 1) expect((await stack.graphql('{ me { id } }', { token: user.token })).status).toBe(200);
      expect(fetches).toBe(0);
      for (let i = 0; i < 8; i += 1) {
        const token = await sign({ key: generateKeyPairSync('ed25519').privateKey, kid: `unknown-${i}` });
        expect((await stack.graphql('{ me { id } }', { token })).status).toBe(401);
      }
      expect(fetches).toBeLessThanOrEqual(1);
    } finally {
      stack.accounts.server.server.off('request', count);
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
    return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
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

  it('refuses a forged token at the subgraph too', async () => {
    const forged = await sign({ key: generateKeyPairSync('ed25519').privateKey });
    const result = await direct(stack.giftCards.listening.url, '{ giftCards { edges { node { id } } } }', { authorization: `Bearer ${forged}` });
    expect(result.status).toBe(401);
    expect(result.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
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
