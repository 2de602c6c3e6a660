// A verified token is remembered until it lapses, so a client's next requests skip the
// signature check; these tests count the key lookups jose makes (one per real verification)
// and move a clock the verifier is given.

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { errorCodeOf } from '@giftpay/testing/outcome';
import { createLocalJWKSet, exportJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../src/auth.ts';
import type { JwtRules } from '../src/config.ts';

const rules: JwtRules = { issuer: 'giftpay-accounts', audience: 'giftpay-api', algorithms: ['EdDSA'], clockToleranceSeconds: 0, maxTokenAgeSeconds: 3600 };
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

async function signingKey(): Promise<{ privateKey: KeyObject; jwk: JWK }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' } };
}

function token(privateKey: KeyObject, claims: { sub?: string; roles?: string[]; iat: number; exp: number }): Promise<string> {
  return new SignJWT({ roles: claims.roles ?? ['user'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .setSubject(claims.sub ?? 'user-1')
    .setIssuer(rules.issuer)
    .setAudience(rules.audience)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(privateKey);
}

/** A verifier over one key whose lookups are counted, at a clock the test moves. */
async function countingVerifier(options: { cacheSize?: number } = {}) {
  const key = await signingKey();
  const local = createLocalJWKSet({ keys: [key.jwk] });
  const state = { lookups: 0, nowMs: T0 };
  const verifier = createTokenVerifier(
    (header, input) => {
      state.lookups += 1;
      return local(header, input);
    },
    rules,
    { ...options, now: () => state.nowMs },
  );
  return { key, state, verifier };
}

describe('the verified-token cache', () => {
  it('verifies a token once and answers its next uses from memory with the same principal', async () => {
    const { key, state, verifier } = await countingVerifier();
    const jwt = await token(key.privateKey, { sub: 'user-7', roles: ['user', 'admin'], iat: T0 / 1000, exp: T0 / 1000 + 300 });
    const first = await verifier.verify(jwt);
    for (let i = 0; i < 5; i++) expect(await verifier.verify(jwt)).toEqual(first);
    expect(first).toEqual({ userId: 'user-7', username: '', roles: ['user', 'admin'] });
    expect(state.lookups).toBe(1);
  });

  it('refuses a remembered token once it has expired, as a fresh check would', async () => {
    const { key, state, verifier } = await countingVerifier();
    const jwt = await token(key.privateKey, { iat: T0 / 1000, exp: T0 / 1000 + 60 });
    await verifier.verify(jwt);
    state.nowMs = T0 + 59_000;
    await expect(verifier.verify(jwt)).resolves.toMatchObject({ userId: 'user-1' });
    state.nowMs = T0 + 61_000;
    expect(await errorCodeOf(verifier.verify(jwt))).toBe('UNAUTHENTICATED');
  });

  it('refuses a remembered token once it passes the maximum token age, even before its exp', async () => {
    const { key, state, verifier } = await countingVerifier();
    const jwt = await token(key.privateKey, { iat: T0 / 1000, exp: T0 / 1000 + 2 * rules.maxTokenAgeSeconds });
    await verifier.verify(jwt);
    state.nowMs = T0 + (rules.maxTokenAgeSeconds + 1) * 1000;
    expect(await errorCodeOf(verifier.verify(jwt))).toBe('UNAUTHENTICATED');
  });

  it('never remembers a refused token: a token changed in one byte is checked, and refused, every time', async () => {
    const { key, state, verifier } = await countingVerifier();
    const jwt = await token(key.privateKey, { iat: T0 / 1000, exp: T0 / 1000 + 300 });
    await verifier.verify(jwt);
    const [header, payload, signature] = jwt.split('.') as [string, string, string];
    const tampered = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    for (let i = 0; i < 3; i++) expect(await errorCodeOf(verifier.verify(tampered))).toBe('UNAUTHENTICATED');
    expect(state.lookups).toBe(4);
  });

  it('holds at most its size, dropping the least recently used token first', async () => {
    const { key, state, verifier } = await countingVerifier({ cacheSize: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((sub) => token(key.privateKey, { sub, iat: T0 / 1000, exp: T0 / 1000 + 300 })));
    await verifier.verify(a as string);
    await verifier.verify(b as string);
    await verifier.verify(a as string); // a is now the most recently used
    await verifier.verify(c as string); // drops b
    expect(state.lookups).toBe(3);
    await verifier.verify(a as string);
    expect(state.lookups).toBe(3);
    await verifier.verify(b as string);
    expect(state.lookups).toBe(4);
  });

  it('verifies every time when its size is 0', async () => {
    const { key, state, verifier } = await countingVerifier({ cacheSize: 0 });
    const jwt = await token(key.privateKey, { iat: T0 / 1000, exp: T0 / 1000 + 300 });
    await verifier.verify(jwt);
    await verifier.verify(jwt);
    expect(state.lookups).toBe(2);
  });
});
