// The accounts configuration refuses a bootstrap admin the account rules would refuse, with a
// message naming the variable and the rule, and plans the development admin only outside
// production and only when no bootstrap admin is configured.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '@giftpay/common';
import { configErrorOf } from '@giftpay/testing/outcome';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { generateSigningKeyPem } from '../src/token-signer.ts';

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'giftpay-accounts-config-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function env(extra: Env = {}): Env {
  return { NODE_ENV: 'development', DATA_DIR: dataDir, DATABASE_URL: 'postgres://localhost/giftpay', ...extra };
}

describe('the bootstrap admin', () => {
  it('refuses a BOOTSTRAP_ADMIN_PASSWORD under 10 characters, naming the variable and the rule but not the password', () => {
    const error = configErrorOf(() => loadConfig(env({ BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: 'short' })));
    expect(error.variable).toBe('BOOTSTRAP_ADMIN_PASSWORD');
    expect(error.message).toBe('Invalid configuration: BOOTSTRAP_ADMIN_PASSWORD must be at least 10 characters, got 5');
  });

  it('counts characters, not bytes, as sign-up does', () => {
    expect(loadConfig(env({ BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: 'ñ'.repeat(10) })).bootstrapAdmin?.password).toBe('ñ'.repeat(10));
    expect(configErrorOf(() => loadConfig(env({ BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: '€'.repeat(9) }))).variable).toBe(
      'BOOTSTRAP_ADMIN_PASSWORD',
    );
  });

  it('refuses a BOOTSTRAP_ADMIN_PASSWORD over 128 characters, naming the variable and the rule', () => {
    const error = configErrorOf(() => loadConfig(env({ BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: 'p'.repeat(129) })));
    expect(error.message).toBe('Invalid configuration: BOOTSTRAP_ADMIN_PASSWORD must be at most 128 characters, got 129');
  });

  it('refuses a BOOTSTRAP_ADMIN_USERNAME sign-up would refuse, naming the variable and the rule', () => {
    const error = configErrorOf(() => loadConfig(env({ BOOTSTRAP_ADMIN_USERNAME: 'no spaces', BOOTSTRAP_ADMIN_PASSWORD: 'long-enough-password' })));
    expect(error.message).toBe('Invalid configuration: BOOTSTRAP_ADMIN_USERNAME must be 3 to 32 letters, digits, "_", "." or "-", got "no spaces"');
  });

  it.each([
    ['BOOTSTRAP_ADMIN_USERNAME', { BOOTSTRAP_ADMIN_USERNAME: 'chief' }, 'BOOTSTRAP_ADMIN_PASSWORD must be set together with BOOTSTRAP_ADMIN_USERNAME'],
    [
      'BOOTSTRAP_ADMIN_PASSWORD',
      { BOOTSTRAP_ADMIN_PASSWORD: 'long-enough-password' },
      'BOOTSTRAP_ADMIN_USERNAME must be set together with BOOTSTRAP_ADMIN_PASSWORD',
    ],
  ])('refuses %s alone, naming the one missing', (_given, extra, message) => {
    expect(configErrorOf(() => loadConfig(env(extra))).message).toBe(`Invalid configuration: ${message}`);
  });
});

describe('the signing key', () => {
  it.each([
    ['text that is no key', 'not-a-key'],
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
  ])('refuses %s as JWT_PRIVATE_KEY, naming the variable and the rule but not the value', (_what, value) => {
    const error = configErrorOf(() => loadConfig(env({ JWT_PRIVATE_KEY: value })));
    expect(error.message).toBe('Invalid configuration: JWT_PRIVATE_KEY must be an Ed25519 or P-256 private key in PKCS#8 PEM');
  });

  it('takes an Ed25519 or a P-256 key, also on one line with literal \\n', () => {
    const ed25519 = generateSigningKeyPem('EdDSA');
    expect(loadConfig(env({ JWT_PRIVATE_KEY: ed25519.replace(/\n/g, '\\n') })).jwtPrivateKeyPem).toBe(ed25519);
    expect(loadConfig(env({ JWT_PRIVATE_KEY: generateSigningKeyPem('ES256') })).jwtPrivateKeyPem).toContain('PRIVATE KEY');
  });
});

describe('the development admin', () => {
  it('is planned outside production when no bootstrap admin is set, with its password file under DATA_DIR/secrets', () => {
    expect(loadConfig(env()).developmentAdmin).toEqual({ username: 'admin', passwordFile: join(dataDir, 'secrets', 'admin-password') });
    expect(loadConfig(env({ NODE_ENV: 'test' })).developmentAdmin?.username).toBe('admin');
  });

  it('is not planned when a bootstrap admin is set', () => {
    expect(loadConfig(env({ BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: 'long-enough-password' })).developmentAdmin).toBeNull();
  });

  it('is never planned in production', () => {
    const production = env({ NODE_ENV: 'production', JWT_PRIVATE_KEY: generateSigningKeyPem('EdDSA'), INTERNAL_API_TOKEN: 'i'.repeat(32) });
    expect(loadConfig(production).developmentAdmin).toBeNull();
  });
});
