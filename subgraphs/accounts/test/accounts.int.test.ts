// The accounts subgraph against a real PostgreSQL: stored passwords, issued tokens, the
// published keys and the bootstrap admin.

import { type Listening, listen, SERVICE_TOKEN_HEADER } from '@giftpay/common';
import { connectDatabase } from '@giftpay/common/db';
import { createTestDatabase, type TestDatabase, testEnv, waitUntil } from '@giftpay/testing';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccountsService } from '../src/accounts.service.ts';
import { loadConfig } from '../src/config.ts';
import * as schema from '../src/db/schema.ts';
import { createPasswordHasher, type PasswordHasher } from '../src/password-hasher.ts';
import { type AccountsServer, createServer } from '../src/server.ts';
import { createTokenSigner } from '../src/token-signer.ts';

let database: TestDatabase;
let server: AccountsServer;
let listening: Listening;
let serviceToken: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig(testEnv(database.url, { BOOTSTRAP_ADMIN_USERNAME: 'Boss', BOOTSTRAP_ADMIN_PASSWORD: 'boss-password-1' }));
  serviceToken = config.internalApiToken;
  server = await createServer({ config });
  listening = await listen(server.server, 0, '127.0.0.1');
});

afterAll(async () => {
  await listening?.close();
  await server?.close();
});

async function jwks(): Promise<JSONWebKeySet> {
  const response = await fetch(`${listening.url}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return (await response.json()) as JSONWebKeySet;
}

describe('passwords', () => {
  it('stores an argon2id hash with its own salt, never the password', async () => {
    await server.accounts.signUp({ username: 'hash_one', password: 'same-password-123' });
    await server.accounts.signUp({ username: 'hash_two', password: 'same-password-123' });
    const rows = await database.sql`select password_hash from accounts.users where username in ('hash_one', 'hash_two')`;
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/);
      expect(row.password_hash).not.toContain('same-password-123');
    }
    expect(rows[0]?.password_hash).not.toBe(rows[1]?.password_hash);
  });

  it('logs in with the right password and refuses a wrong one', async () => {
    await server.accounts.signUp({ username: 'login_lee', password: 'right-password-1' });
    await expect(server.accounts.logIn({ username: 'LOGIN_LEE', password: 'right-password-1' })).resolves.toMatchObject({ user: { username: 'login_lee' } });
    await expect(server.accounts.logIn({ username: 'login_lee', password: 'wrong-password-1' })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
  });

  it('keeps usernames unique without regard to case, even when two sign-ups race', async () => {
    const results = await Promise.allSettled([
      server.accounts.signUp({ username: 'Racer', password: 'a-long-enough-password' }),
      server.accounts.signUp({ username: 'racer', password: 'a-long-enough-password' }),
      server.accounts.signUp({ username: 'RACER', password: 'a-long-enough-password' }),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'USERNAME_TAKEN' });
  });
});

describe('tokens and keys', () => {
  it('signs an EdDSA token with a key id, issuer, audience, subject, roles and expiry that the published JWKS verifies', async () => {
    const { token, expiresIn, user } = await server.accounts.signUp({ username: 'token_tia', password: 'a-long-enough-password' });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    const published = await jwks();
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(published), { issuer: 'giftpay-accounts', audience: 'giftpay-api' });
    // The key id is the published key's RFC 7638 thumbprint, and the published key carries it.
    const [key] = published.keys;
    if (!key) throw new Error('the JWKS publishes no key');
    const thumbprint = await calculateJwkThumbprint(key);
    expect(protectedHeader.kid).toBe(thumbprint);
    expect(key.kid).toBe(thumbprint);
    expect(payload).toMatchObject({ sub: user.id, roles: ['user'], preferred_username: 'token_tia' });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(expiresIn);
  });

  it('publishes only public key material', async () => {
    const { keys } = await jwks();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });
});

describe('the bootstrap admin', () => {
  it('exists after start with the roles user and admin, and start-up may run again without changing its password', async () => {
    const first = await server.accounts.ensureAdmin({ username: 'Boss', password: 'another-password-2' });
    expect(first.roles).toEqual(['user', 'admin']);
    await expect(server.accounts.logIn({ username: 'boss', password: 'boss-password-1' })).resolves.toMatchObject({ user: { id: first.id } });
    const [count] = await database.sql`select count(*)::int as n from accounts.users where username_key = 'boss'`;
    expect(count?.n).toBe(1);
  });

  it('promotes an existing user named as the bootstrap admin', async () => {
    await server.accounts.signUp({ username: 'promoted', password: 'a-long-enough-password' });
    const admin = await server.accounts.ensureAdmin({ username: 'promoted', password: 'a-long-enough-password' });
    expect(admin.roles).toEqual(['user', 'admin']);
  });
});

describe('the internal user look-up', () => {
  it('answers with the user id only for a caller with the service credential', async () => {
    await server.accounts.signUp({ username: 'lookup_lu', password: 'a-long-enough-password' });
    const url = `${listening.url}/internal/users/lookup`;
    const body = JSON.stringify({ username: 'LOOKUP_LU' });
    const refused = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(refused.status).toBe(401);
    const headers = { 'content-type': 'application/json', [SERVICE_TOKEN_HEADER]: serviceToken };
    const found = await fetch(url, { method: 'POST', headers, body });
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ username: 'lookup_lu', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const missing = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ username: 'nobody_at_all' }) });
    expect(missing.status).toBe(404);
  });
});

describe('a user resolved for another subgraph (_entities)', () => {
  async function entities(id: string, token?: string) {
    const response = await fetch(`${listening.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: `{ _entities(representations: [{ __typename: "User", id: "${id}" }]) { ... on User { id username roles } } }` }),
    });
    const text = await response.text();
    return { text, body: JSON.parse(text) as { data?: { _entities: unknown[] } | null; errors?: { extensions?: { code?: string } }[] } };
  }

  it('answers that user and an admin, refuses another user with FORBIDDEN and no token with UNAUTHENTICATED, and leaks no name', async () => {
    const owner = await server.accounts.signUp({ username: 'entity_owen', password: 'a-long-enough-password' });
    const other = await server.accounts.signUp({ username: 'entity_olga', password: 'a-long-enough-password' });
    const admin = await server.accounts.logIn({ username: 'Boss', password: 'boss-password-1' });
    const expected = { _entities: [{ id: owner.user.id, username: 'entity_owen', roles: ['user'] }] };

    expect((await entities(owner.user.id, owner.token)).body).toEqual({ data: expected });
    expect((await entities(owner.user.id, admin.token)).body).toEqual({ data: expected });

    const asOther = await entities(owner.user.id, other.token);
    expect(asOther.body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const anonymous = await entities(owner.user.id);
    expect(anonymous.body.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    for (const refused of [asOther, anonymous]) {
      expect(refused.body.data?._entities ?? [null]).toEqual([null]);
      expect(refused.text).not.toContain('entity_owen');
    }
  });
});

describe('the attempt a log-in takes', () => {
  it('is given back, row and all, after a right password and after a failure of the service’s own; only a wrong password keeps it', async () => {
    await server.accounts.signUp({ username: 'attempt_owner', password: 'right-password-1' });
    const counted = async () => {
      const [row] =
        await database.sql`select coalesce(sum(count), 0)::int as n, count(*)::int as rows from accounts.attempt_counters where subject = 'login:attempt_owner'`;
      return { n: row?.n as number, rows: row?.rows as number };
    };
    await server.accounts.logIn({ username: 'attempt_owner', password: 'right-password-1' });
    expect(await counted()).toEqual({ n: 0, rows: 0 });
    await expect(server.accounts.logIn({ username: 'attempt_owner', password: 'wrong-password-1' })).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(await counted()).toEqual({ n: 1, rows: 1 });
    // The user lookup fails (the table renamed away for a moment): an error of ours, not a guess.
    await database.sql`alter table accounts.users rename to users_away`;
    try {
      await expect(server.accounts.logIn({ username: 'attempt_owner', password: 'any-password-1' })).rejects.toThrow();
    } finally {
      await database.sql`alter table accounts.users_away rename to users`;
    }
    expect(await counted()).toEqual({ n: 1, rows: 1 });
  });
});

describe('log-ins for one account sent together', () => {
  it('check no more passwords than the limit however many arrive at once, the right one among them included; the others are RATE_LIMITED unchecked', async () => {
    const config = loadConfig(testEnv(database.url));
    const connection = connectDatabase(database.url, schema, { applicationName: 'accounts-burst-test', maxConnections: 40, timeouts: config.databaseTimeouts });
    const real = await createPasswordHasher(config.passwordHash);
    // Every password check waits at a gate the test opens later, so no failure can have been
    // counted before the other log-ins asked.
    let checked = 0;
    let open: () => void = () => {};
    const gate = new Promise<void>((done) => {
      open = done;
    });
    const hasher: PasswordHasher = {
      hash: (password) => real.hash(password),
      async verify(hash, password) {
        checked += 1;
        await gate;
        return real.verify(hash, password);
      },
      verifyDummy: (password) => real.verifyDummy(password),
    };
    const signer = await createTokenSigner({
      privateKeyPem: config.jwtPrivateKeyPem,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ttlSeconds: 60,
    });
    const limit = { max: 4, windowSeconds: 86_400 };
    const accounts = createAccountsService({
      db: connection.db,
      hasher,
      signer,
      failedLogins: { perUsername: limit, perAddress: { max: 1_000, windowSeconds: 86_400 } },
    });
    try {
      await accounts.signUp({ username: 'burst_target', password: 'the-right-password' });
      const guesses = [...Array.from({ length: 30 }, (_, index) => `wrong-password-${index}`), 'the-right-password'];
      let settled = 0;
      const answers = Promise.allSettled(
        guesses.map((password) =>
          accounts.logIn({ username: 'burst_target', password }, '10.1.2.3').finally(() => {
            settled += 1;
          }),
        ),
      );
      // Those past the limit are answered while the others wait at the gate (with the check
      // before and the count after, every one of them waited there).
      await waitUntil('the log-ins past the limit to be answered', () => settled === guesses.length - limit.max, { timeoutMs: 10_000 });
      expect(checked).toBe(limit.max);
      open();
      const outcomes = (await answers).map((outcome) => (outcome.status === 'fulfilled' ? 'TOKEN' : (outcome.reason as { code?: string }).code));
      expect(checked).toBe(limit.max);
      expect(outcomes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(guesses.length - limit.max);
      expect(outcomes.filter((code) => code === 'INVALID_CREDENTIALS' || code === 'TOKEN')).toHaveLength(limit.max);
    } finally {
      open();
      await connection.close();
    }
  });
});
