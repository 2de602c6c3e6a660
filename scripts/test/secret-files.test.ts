// Every service takes each of its secrets from a file as well (X_FILE, as Docker and Kubernetes
// secrets are mounted), in production as in development; X and X_FILE together, or a file that
// cannot be read, refuse the configuration naming the variable.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as loadAccountsConfig } from '@giftpay/accounts/config';
import { generateSigningKeyPem } from '@giftpay/accounts/token-signer';
import type { Env } from '@giftpay/common';
import { loadConfig as loadGatewayConfig } from '@giftpay/gateway/config';
import { loadConfig as loadGiftCardsConfig } from '@giftpay/gift-cards/config';
import { configErrorOf } from '@giftpay/testing/outcome';
import { loadConfig as loadWalletConfig } from '@giftpay/wallet/config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'giftpay-secret-files-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const pem = generateSigningKeyPem('EdDSA');

/** What production needs, every secret given directly. */
function productionEnv(): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATA_DIR: dir,
    DATABASE_URL: 'postgres://giftpay:from-env@db.internal:5432/giftpay',
    JWT_PRIVATE_KEY: pem,
    INTERNAL_API_TOKEN: 'i'.repeat(32),
    GIFT_CARD_CODE_KEY: 'k'.repeat(32),
  };
}

type Loaded = Record<string, unknown>;
const secrets: [service: string, variable: string, load: (env: Env) => unknown, read: (config: Loaded) => unknown, value: string][] = [
  ['accounts', 'DATABASE_URL', loadAccountsConfig, (c) => c.databaseUrl, 'postgres://giftpay:from-file@db.internal:5432/giftpay'],
  ['accounts', 'JWT_PRIVATE_KEY', loadAccountsConfig, (c) => `${c.jwtPrivateKeyPem}`, generateSigningKeyPem('EdDSA').trimEnd()],
  ['accounts', 'INTERNAL_API_TOKEN', loadAccountsConfig, (c) => c.internalApiToken, 'f'.repeat(40)],
  ['accounts', 'BOOTSTRAP_ADMIN_PASSWORD', loadAccountsConfig, (c) => (c.bootstrapAdmin as { password: string }).password, 'admin-password-from-file'],
  ['accounts', 'METRICS_TOKEN', loadAccountsConfig, (c) => c.metricsToken, 'metrics-from-file'],
  ['wallet', 'DATABASE_URL', loadWalletConfig, (c) => c.databaseUrl, 'postgres://giftpay:from-file@db.internal:5432/giftpay'],
  ['wallet', 'INTERNAL_API_TOKEN', loadWalletConfig, (c) => c.internalApiToken, 'f'.repeat(40)],
  ['wallet', 'METRICS_TOKEN', loadWalletConfig, (c) => c.metricsToken, 'metrics-from-file'],
  ['gift-cards', 'DATABASE_URL', loadGiftCardsConfig, (c) => c.databaseUrl, 'postgres://giftpay:from-file@db.internal:5432/giftpay'],
  ['gift-cards', 'INTERNAL_API_TOKEN', loadGiftCardsConfig, (c) => c.internalApiToken, 'f'.repeat(40)],
  ['gift-cards', 'GIFT_CARD_CODE_KEY', loadGiftCardsConfig, (c) => c.codeKey, 'c'.repeat(40)],
  ['gift-cards', 'METRICS_TOKEN', loadGiftCardsConfig, (c) => c.metricsToken, 'metrics-from-file'],
  ['gateway', 'METRICS_TOKEN', loadGatewayConfig, (c) => c.metricsToken, 'metrics-from-file'],
];

/** productionEnv with `variable` taken from a file instead (and the admin's name when its password is). */
function fromFile(variable: string, value: string): Record<string, string> {
  const { [variable]: _direct, ...env } = productionEnv();
  const path = join(dir, variable.toLowerCase());
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return { ...env, [`${variable}_FILE`]: path, ...(variable === 'BOOTSTRAP_ADMIN_PASSWORD' ? { BOOTSTRAP_ADMIN_USERNAME: 'chief' } : {}) };
}

describe('secrets from files', () => {
  it.each(secrets)('%s reads %s from the file named by its _FILE variable', (_service, variable, load, read, value) => {
    expect(read(load(fromFile(variable, value)) as Loaded)).toBe(value);
  });

  it.each(secrets)('%s refuses %s and its _FILE variable set together, naming both', (_service, variable, load, _read, value) => {
    const error = configErrorOf(() => load({ ...fromFile(variable, value), [variable]: value }));
    expect(error.message).toBe(`Invalid configuration: ${variable}_FILE and ${variable} are both set: set only one of them`);
  });

  it.each(secrets)('%s refuses a %s_FILE naming a missing file, naming the variable and the path', (_service, variable, load) => {
    const path = join(dir, 'no-such-secret');
    const { [variable]: _direct, ...env } = productionEnv();
    const error = configErrorOf(() => load({ ...env, [`${variable}_FILE`]: path, BOOTSTRAP_ADMIN_USERNAME: 'chief' }));
    expect(error.variable).toBe(`${variable}_FILE`);
    expect(error.message).toContain(`"${path}"`);
  });

  it('checks a secret read from a file by the same rules as one given directly', () => {
    const error = configErrorOf(() => loadWalletConfig(fromFile('INTERNAL_API_TOKEN', 'too-short')));
    expect(error.message).toBe('Invalid configuration: INTERNAL_API_TOKEN must be at least 32 characters');
  });
});
