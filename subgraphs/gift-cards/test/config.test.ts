// The gift-cards configuration's currency rule: a wrong DEFAULT_CURRENCY stops the service at
// start with one line that names the variable and the currencies it may be.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type Env, supportedCurrencies } from '@giftpay/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'giftpay-gift-cards-config-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function env(extra: Env = {}): Env {
  return { NODE_ENV: 'development', DATA_DIR: dataDir, DATABASE_URL: 'postgres://localhost/giftpay', ...extra };
}

describe('DEFAULT_CURRENCY', () => {
  it('defaults to IRR and accepts a supported code in any case', () => {
    expect(loadConfig(env()).defaultCurrency).toBe('IRR');
    expect(loadConfig(env({ DEFAULT_CURRENCY: 'irr' })).defaultCurrency).toBe('IRR');
  });

  it('refuses an unsupported code at start, naming the variable and every supported currency', () => {
    let refusal: unknown;
    try {
      loadConfig(env({ DEFAULT_CURRENCY: 'XYZ' }));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ConfigError);
    const message = (refusal as Error).message;
    expect(message).toContain('DEFAULT_CURRENCY');
    expect(message).toContain('"XYZ"');
    for (const code of supportedCurrencies()) expect(message).toContain(code);
  });
});
