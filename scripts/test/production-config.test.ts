// No service starts half-configured in production: with NODE_ENV=production each refuses to
// load its configuration when a secret is missing or too short, with a ConfigError naming the
// variable, and never falls back to the development secrets kept under DATA_DIR. Each refusal
// takes one variable away from an environment that loads, so only that variable can cause it.

import { mkdtempSync, rmSync } from 'node:fs';
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

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'giftpay-config-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** Everything production needs, and DATA_DIR in a directory of this test's own. */
function productionEnv(): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    DATABASE_URL: 'postgres://giftpay@db.internal:5432/giftpay',
    JWT_PRIVATE_KEY: generateSigningKeyPem('EdDSA'),
    INTERNAL_API_TOKEN: 'i'.repeat(32),
    GIFT_CARD_CODE_KEY: 'k'.repeat(32),
  };
}

function without(env: Record<string, string>, name: string): Env {
  const { [name]: _removed, ...rest } = env;
  return rest;
}

const services = {
  accounts: { load: loadAccountsConfig, secrets: ['JWT_PRIVATE_KEY', 'INTERNAL_API_TOKEN'] },
  wallet: { load: loadWalletConfig, secrets: ['INTERNAL_API_TOKEN'] },
  'gift-cards': { load: loadGiftCardsConfig, secrets: ['INTERNAL_API_TOKEN', 'GIFT_CARD_CODE_KEY'] },
} as const;

type Service = keyof typeof services;
const names = Object.keys(services) as Service[];
const missingSecrets: [Service, string][] = names.flatMap((service) => services[service].secrets.map((secret): [Service, string] => [service, secret]));

describe('in production', () => {
  it.each(names)('loads the %s configuration when every secret is given', (service) => {
    const config = services[service].load(productionEnv());
    expect(config.mode).toBe('production');
  });

  it.each(missingSecrets)('refuses the %s configuration without %s, naming it', (service, secret) => {
    const error = configErrorOf(() => services[service].load(without(productionEnv(), secret)));
    expect(error.variable).toBe(secret);
    expect(error.message).toBe(`Invalid configuration: ${secret} is required when NODE_ENV=production`);
  });

  it.each(missingSecrets)('refuses the %s configuration with %s blank, naming it', (service, secret) => {
    const error = configErrorOf(() => services[service].load({ ...productionEnv(), [secret]: '   ' }));
    expect(error.variable).toBe(secret);
  });

  it.each(missingSecrets.filter(([, secret]) => secret !== 'JWT_PRIVATE_KEY'))(
    'refuses the %s configuration with a %s under 32 characters',
    (service, secret) => {
      const error = configErrorOf(() => services[service].load({ ...productionEnv(), [secret]: 's'.repeat(31) }));
      expect(error.variable).toBe(secret);
      expect(error.message).toMatch(/at least 32 characters/);
      // Nor does the refusal repeat the value.
      expect(error.message).not.toContain('s'.repeat(31));
    },
  );

  it.each(names)('refuses the %s configuration without DATABASE_URL', (service) => {
    expect(configErrorOf(() => services[service].load(without(productionEnv(), 'DATABASE_URL'))).variable).toBe('DATABASE_URL');
  });

  it('does not take the development secrets kept under DATA_DIR instead', () => {
    // Development writes its secrets to DATA_DIR/secrets ...
    for (const { load } of Object.values(services)) {
      load({ NODE_ENV: 'development', DATA_DIR: dataDir, DATABASE_URL: 'postgres://localhost/giftpay' });
    }
    // ... and production, on the same DATA_DIR, still wants each one from its environment.
    for (const [service, secret] of missingSecrets) {
      const error = configErrorOf(() => services[service].load(without(productionEnv(), secret)));
      expect(error.variable, `${service} without ${secret}`).toBe(secret);
    }
  });

  it('turns introspection off and hides field suggestions at the gateway unless told otherwise', () => {
    const production = loadGatewayConfig({ NODE_ENV: 'production' });
    expect(production.introspection).toBe(false);
    expect(production.hideSuggestions).toBe(true);
    const development = loadGatewayConfig({ NODE_ENV: 'development' });
    expect(development.introspection).toBe(true);
    expect(development.hideSuggestions).toBe(false);
  });
});

describe('in development', () => {
  it.each(names)('starts the %s configuration without secrets, creating them under DATA_DIR', (service) => {
    const config = services[service].load({
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      DATABASE_URL: 'postgres://localhost/giftpay',
    });
    expect(config.internalApiToken.length).toBeGreaterThanOrEqual(32);
    const again = services[service].load({ NODE_ENV: 'development', DATA_DIR: dataDir, DATABASE_URL: 'postgres://localhost/giftpay' });
    expect(again.internalApiToken).toBe(config.internalApiToken);
  });
});
