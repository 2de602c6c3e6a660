// With JWKS_URL set, accounts trusts that key set (another OIDC provider's) like the other
// services do, instead of its own signing key.

import { generateKeyPairSync } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { type Listening, listen } from '@giftpay/common';
import { createTestDatabase, testEnv } from '@giftpay/testing';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { type AccountsServer, createServer } from '../src/server.ts';

const provider = generateKeyPairSync('ed25519');
let providerListening: Listening;
let server: AccountsServer;
let listening: Listening;

beforeAll(async () => {
  const jwks = { keys: [{ ...(await exportJWK(provider.publicKey)), kid: 'provider-key', alg: 'EdDSA', use: 'sig' }] };
  const jwksServer = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  providerListening = await listen(jwksServer, 0, '127.0.0.1');
  const database = await createTestDatabase();
  server = await createServer({ config: loadConfig(testEnv(database.url, { JWKS_URL: `${providerListening.url}/jwks.json` })) });
  listening = await listen(server.server, 0, '127.0.0.1');
});

afterAll(async () => {
  await listening?.close();
  await server?.close();
  await providerListening?.close();
});

async function me(token: string) {
  const response = await fetch(`${listening.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown } };
}

describe('accounts with JWKS_URL', () => {
  it("accepts the provider's tokens and refuses its own signing key's", async () => {
    const external = await new SignJWT({ roles: ['user'] })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'provider-key' })
      .setSubject('00000000-0000-4000-8000-000000000001')
      .setIssuer('giftpay-accounts')
      .setAudience('giftpay-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(provider.privateKey);
    const accepted = await me(external);
    expect(accepted.status).toBe(200);
    // Verified, but no account of ours has that subject.
    expect(accepted.body.data).toEqual({ me: null });
    const { token: own } = await server.accounts.signUp({ username: 'local_lou', password: 'a-long-enough-password' });
    expect((await me(own)).status).toBe(401);
  });
});
