// The signing keys every service verifies tokens with, fetched from a JWKS over HTTP (a real
// server on port 0 here): fetched once however many requests wait for them, refetched for a
// rotated key at most once per cooldown, and kept when the JWKS cannot be reached, so a valid
// token is never called UNAUTHENTICATED because accounts is down; when no keys can be had the
// answer is SERVICE_UNAVAILABLE, which tells a client to keep its token and try again.

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { captureLogs } from '@giftpay/testing/logs';
import { errorCodeOf } from '@giftpay/testing/outcome';
import { sleep, waitUntil } from '@giftpay/testing/waits';
import { exportJWK, type JWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenVerifier, fetchSigningKeysAtStart, remoteKeySet } from '../src/auth.ts';
import type { JwtRules } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';

const rules: JwtRules = { issuer: 'giftpay-accounts', audience: 'giftpay-api', algorithms: ['EdDSA'], clockToleranceSeconds: 5, maxTokenAgeSeconds: 3600 };

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

function tokenSignedBy(key: SigningKey, subject = 'user-1'): Promise<string> {
  return new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
    .setSubject(subject)
    .setIssuer(rules.issuer)
    .setAudience(rules.audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

/** A JWKS endpoint whose keys and behaviour the test changes as it goes. */
interface JwksServer {
  readonly url: string;
  keys: JWK[];
  mode: 'serve' | 'fail' | 'hang';
  readonly fetches: number;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  }
});

async function startJwks(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, mode: 'serve' as JwksServer['mode'], fetches: 0 };
  const server = createServer((_req, res) => {
    state.fetches += 1;
    if (state.mode === 'hang') return;
    if (state.mode === 'fail') return void res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(state, { url: `http://127.0.0.1:${port}/.well-known/jwks.json` }) as JwksServer;
}

describe('the signing keys', () => {
  it('are fetched once for many requests that arrive before them, and not again while fresh', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    const verifier = createTokenVerifier(remoteKeySet(jwks.url), rules);
    const token = await tokenSignedBy(key);
    const principals = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(principals.every((principal) => principal.userId === 'user-1')).toBe(true);
    expect(jwks.fetches).toBe(1);
    await verifier.verify(token);
    expect(jwks.fetches).toBe(1);
  });

  it('can be fetched at start, so the first request waits for nothing', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    const keys = remoteKeySet(jwks.url);
    await keys.refresh();
    jwks.mode = 'fail';
    expect((await createTokenVerifier(keys, rules).verify(await tokenSignedBy(key))).userId).toBe('user-1');
    expect(jwks.fetches).toBe(1);
  });

  it('are kept when a refresh fails: a valid token is still accepted while the JWKS is down', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    // No verified-token cache here: each request must reach the key set.
    const verifier = createTokenVerifier(remoteKeySet(jwks.url, { cacheMaxAgeMs: 0, cooldownMs: 0 }), rules, { cacheSize: 0 });
    const token = await tokenSignedBy(key);
    await verifier.verify(token);
    jwks.mode = 'fail';
    // Past its age (0 ms) and cooldown (0 ms) only once the clock has moved on: a millisecond later.
    await sleep(5);
    for (let request = 0; request < 3; request += 1) expect((await verifier.verify(token)).userId).toBe('user-1');
    // The stale set was refreshed in the background (and failed): the fault happened.
    expect(jwks.fetches).toBeGreaterThan(1);
  });

  it('answer SERVICE_UNAVAILABLE, not UNAUTHENTICATED, when none could ever be fetched', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    jwks.mode = 'fail';
    const verifier = createTokenVerifier(remoteKeySet(jwks.url), rules);
    expect(await errorCodeOf(verifier.verify(await tokenSignedBy(key)))).toBe('SERVICE_UNAVAILABLE');
    expect(jwks.fetches).toBe(1);
  });

  it('answer SERVICE_UNAVAILABLE when the JWKS hangs past its timeout', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    jwks.mode = 'hang';
    const verifier = createTokenVerifier(remoteKeySet(jwks.url, { timeoutMs: 200 }), rules);
    expect(await errorCodeOf(verifier.verify(await tokenSignedBy(key)))).toBe('SERVICE_UNAVAILABLE');
  });

  it('are refetched once for a rotated key, which is then accepted; an unknown key id within the cooldown fetches nothing', async () => {
    const [old, rotated, stranger] = await Promise.all([signingKey('old'), signingKey('new'), signingKey('stranger')]);
    const jwks = await startJwks([old.jwk]);
    const verifier = createTokenVerifier(remoteKeySet(jwks.url, { cooldownMs: 60_000 }), rules);
    await verifier.verify(await tokenSignedBy(old));
    jwks.keys = [old.jwk, rotated.jwk];
    // The first fetch was just now, inside the cooldown: the new key id is refused without a fetch.
    expect(await errorCodeOf(verifier.verify(await tokenSignedBy(rotated)))).toBe('UNAUTHENTICATED');
    expect(jwks.fetches).toBe(1);

    const patient = createTokenVerifier(remoteKeySet(jwks.url, { cooldownMs: 0 }), rules);
    await patient.verify(await tokenSignedBy(old));
    expect((await patient.verify(await tokenSignedBy(rotated))).userId).toBe('user-1');
    // A key id nobody published is refused after one more look.
    const before = jwks.fetches;
    expect(await errorCodeOf(patient.verify(await tokenSignedBy(stranger)))).toBe('UNAUTHENTICATED');
    expect(jwks.fetches).toBe(before + 1);
  });

  it('refuse a token signed by another key under a known key id as UNAUTHENTICATED, even with the JWKS down', async () => {
    const [real, forger] = await Promise.all([signingKey('k1'), signingKey('k1')]);
    const jwks = await startJwks([real.jwk]);
    const verifier = createTokenVerifier(remoteKeySet(jwks.url), rules);
    await verifier.verify(await tokenSignedBy(real));
    jwks.mode = 'fail';
    expect(await errorCodeOf(verifier.verify(await tokenSignedBy(forger)))).toBe('UNAUTHENTICATED');
  });

  it('are fetched from the start on until the JWKS answers, with no request asking: every process of the stack starts at once', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    jwks.mode = 'fail';
    const keys = remoteKeySet(jwks.url);
    const stop = fetchSigningKeysAtStart(keys, createLogger('keys-test', 'silent'), { firstDelayMs: 10, maxDelayMs: 40 });
    try {
      await waitUntil('three failed fetches', () => jwks.fetches >= 3, { intervalMs: 5 });
      expect(keys.held()).toBe(false);
      jwks.mode = 'serve';
      await waitUntil('the keys held', () => keys.held(), { intervalMs: 5 });
      const fetched = jwks.fetches;
      // Held: the first request needs no fetch, whatever the JWKS does now, and the retries are over.
      jwks.mode = 'fail';
      expect((await createTokenVerifier(keys, rules).verify(await tokenSignedBy(key))).userId).toBe('user-1');
      await sleep(200);
      expect(jwks.fetches).toBe(fetched);
    } finally {
      stop();
    }
  });

  it('are no longer looked for once the service stops them', async () => {
    const jwks = await startJwks([]);
    jwks.mode = 'fail';
    const stop = fetchSigningKeysAtStart(remoteKeySet(jwks.url), createLogger('keys-test', 'silent'), { firstDelayMs: 10, maxDelayMs: 20 });
    await waitUntil('two failed fetches', () => jwks.fetches >= 2, { intervalMs: 5 });
    stop();
    await sleep(100);
    const atStop = jwks.fetches;
    // Every 20 ms, they would have been fetched about ten times more in this wait.
    await sleep(200);
    expect(jwks.fetches).toBe(atStop);
  });

  it('log their expected early failures at debug, one failure past the quiet time at warn, and their arrival at info', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    jwks.mode = 'fail';
    const logger = createLogger('keys-test', 'info');
    const logs = captureLogs([logger]);
    const stop = fetchSigningKeysAtStart(remoteKeySet(jwks.url), logger, { firstDelayMs: 10, maxDelayMs: 20, quietMs: 100 });
    try {
      await waitUntil('ten failed fetches', () => jwks.fetches >= 10, { intervalMs: 5 });
      jwks.mode = 'serve';
      await logs.waitFor((line) => line.msg === 'signing keys fetched');
      const lines = logs.lines();
      const failures = lines.filter((line) => String(line.msg).startsWith('signing keys'));
      expect(failures.filter((line) => line.level === 40).map((line) => line.msg)).toEqual([
        'signing keys still not fetched; tokens cannot be checked until they are; retrying',
      ]);
      expect(failures.filter((line) => line.level === 20).length).toBeGreaterThanOrEqual(2);
      expect(failures.filter((line) => line.level === 20).every((line) => line.msg === 'signing keys not fetched yet; retrying')).toBe(true);
      const fetched = failures.find((line) => line.msg === 'signing keys fetched');
      expect(fetched?.level).toBe(30);
      expect(fetched?.failures).toBe(failures.length - 1);
    } finally {
      stop();
      logs.stop();
    }
  });

  it('are ready once held: not while none could be fetched, and still when the JWKS goes down afterwards', async () => {
    const key = await signingKey('k1');
    const jwks = await startJwks([key.jwk]);
    jwks.mode = 'fail';
    const keys = remoteKeySet(jwks.url);
    const verifier = createTokenVerifier(keys, rules);
    expect(await verifier.ready?.()).toBe(false);
    expect(jwks.fetches).toBe(1);
    jwks.mode = 'serve';
    expect(await verifier.ready?.()).toBe(true);
    jwks.mode = 'fail';
    expect(await verifier.ready?.()).toBe(true);
    expect(jwks.fetches).toBe(2);
  });
});
