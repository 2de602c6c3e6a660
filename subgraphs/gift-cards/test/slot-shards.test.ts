// K, the slot shards of a card: chosen by size under GIFT_CARD_SLOT_SHARDS=auto, fixed by the
// setting otherwise, never more than the card's slots; a wrong setting stops the service at
// start with a message naming the variable.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type Env } from '@giftpay/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { slotShardsFor } from '../src/domain/slot-shards.ts';

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

describe('slot shards', () => {
  it('keeps a card under 1,000 slots on its own row and splits larger ones into 4, then 16 from 10,000, under auto', () => {
    expect([1, 2, 999, 1000, 9999, 10_000, 10_000_000].map((slots) => slotShardsFor(slots, 'auto'))).toEqual([1, 1, 1, 4, 4, 16, 16]);
  });

  it('uses a fixed K whatever the size, but never more shards than the card has slots', () => {
    expect([1, 3, 8, 500, 50_000].map((slots) => slotShardsFor(slots, 8))).toEqual([1, 3, 8, 8, 8]);
    expect(slotShardsFor(50_000, 1)).toBe(1);
  });

  it('reads GIFT_CARD_SLOT_SHARDS as auto by default, or a number of shards from 1 to 64', () => {
    expect(loadConfig(env()).slotShards).toBe('auto');
    expect(loadConfig(env({ GIFT_CARD_SLOT_SHARDS: 'AUTO' })).slotShards).toBe('auto');
    expect(loadConfig(env({ GIFT_CARD_SLOT_SHARDS: '1' })).slotShards).toBe(1);
    expect(loadConfig(env({ GIFT_CARD_SLOT_SHARDS: '64' })).slotShards).toBe(64);
  });

  it.each(['0', '65', '4.5', 'many', '-2'])('refuses GIFT_CARD_SLOT_SHARDS=%s at start, naming the variable', (value) => {
    let refusal: unknown;
    try {
      loadConfig(env({ GIFT_CARD_SLOT_SHARDS: value }));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as Error).message).toContain('GIFT_CARD_SLOT_SHARDS');
  });
});
