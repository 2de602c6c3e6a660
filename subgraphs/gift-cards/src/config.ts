// The gift-cards subgraph's configuration, parsed once from the environment.

import { randomBytes } from 'node:crypto';
import {
  type CommonConfig,
  ConfigError,
  type Env,
  envInt,
  envList,
  envOptional,
  envRequired,
  envString,
  envUrl,
  gatewayTokenSetting,
  isSupportedCurrency,
  loadCommonConfig,
  loadOrCreateDevSecret,
  previousGatewayTokenSetting,
  supportedCurrencies,
  withSecretFiles,
} from '@giftpay/common';
import type { AttemptLimit } from '@giftpay/common/attempt-limiter';
import { MAX_SLOT_SHARDS, type SlotShardsSetting } from './domain/slot-shards.ts';

/** What K a card of N slots gets under a GIFT_CARD_SLOT_SHARDS setting (for the bench, which issues through the API). */
export { slotShardsFor } from './domain/slot-shards.ts';

export interface GiftCardsConfig extends CommonConfig {
  readonly port: number;
  readonly databaseUrl: string;
  readonly dbPoolMax: number;
  readonly defaultCurrency: string;
  readonly walletUrl: string;
  readonly jwksUrl: string;
  readonly internalApiToken: string;
  /** GATEWAY_TOKEN: requests carrying it come from the gateway, with the caller it verified (gateway-identity.ts). */
  readonly gatewayToken: string | null;
  /** GATEWAY_TOKEN_PREVIOUS: during a rotation, the credential still believed beside GATEWAY_TOKEN. */
  readonly previousGatewayToken: string | null;
  readonly codeKey: string;
  readonly walletCreditTimeoutMs: number;
  readonly relay: { readonly intervalMs: number; readonly batchSize: number; readonly leaseMs: number; readonly quickRetryDelaysMs: readonly number[] };
  /** Wrong codes allowed per window before RATE_LIMITED. */
  readonly failedActivations: { readonly perUser: AttemptLimit; readonly perAddress: AttemptLimit };
  /** GIFT_CARD_SLOT_SHARDS: the counter rows a card's slots are split over at issue, `auto` (by size) or a fixed K. */
  readonly slotShards: SlotShardsSetting;
  /** How many used-up cards a replica remembers, and how many of their redeemers at most in all (USED_UP_MEMORY_*). */
  readonly usedUpMemory: { readonly cards: number; readonly redeemers: number };
}

export function loadConfig(environment: Env): GiftCardsConfig {
  const env = withSecretFiles(environment, ['DATABASE_URL', 'INTERNAL_API_TOKEN', 'GIFT_CARD_CODE_KEY']);
  const common = loadCommonConfig(env);
  const secret = (name: string, file: string): string => {
    const value = envOptional(env, name);
    if (value) {
      if (value.length < 32) throw new ConfigError(name, 'must be at least 32 characters');
      return value;
    }
    if (common.mode === 'production') throw new ConfigError(name, 'is required when NODE_ENV=production');
    return loadOrCreateDevSecret(common.dataDir, file, () => randomBytes(32).toString('base64url'));
  };
  const defaultCurrency = envString(env, 'DEFAULT_CURRENCY', 'IRR').toUpperCase();
  if (!isSupportedCurrency(defaultCurrency)) {
    throw new ConfigError('DEFAULT_CURRENCY', `must be one of ${supportedCurrencies().join(', ')}, got "${defaultCurrency}"`);
  }
  const accountsUrl = envUrl(env, 'ACCOUNTS_URL', 'http://localhost:4001');
  const gatewayToken = gatewayTokenSetting(env, common);
  return Object.freeze({
    ...common,
    port: envInt(env, 'GIFT_CARDS_PORT', 4003, { min: 0, max: 65535 }),
    databaseUrl: envRequired(env, 'DATABASE_URL'),
    dbPoolMax: envInt(env, 'DB_POOL_MAX', 10, { min: 1, max: 200 }),
    defaultCurrency,
    walletUrl: envUrl(env, 'WALLET_URL', 'http://localhost:4002'),
    jwksUrl: envUrl(env, 'JWKS_URL', `${accountsUrl}/.well-known/jwks.json`),
    internalApiToken: secret('INTERNAL_API_TOKEN', 'internal-api-token'),
    gatewayToken,
    previousGatewayToken: previousGatewayTokenSetting(env, gatewayToken),
    codeKey: secret('GIFT_CARD_CODE_KEY', 'gift-card-code-key'),
    walletCreditTimeoutMs: envInt(env, 'WALLET_CREDIT_TIMEOUT_MS', 2000, { min: 50, max: 60_000 }),
    failedActivations: Object.freeze({
      perUser: { max: envInt(env, 'FAILED_ACTIVATIONS_PER_USER', 10, { min: 1, max: 100_000 }), windowSeconds: common.rateLimitWindowSeconds },
      perAddress: { max: envInt(env, 'FAILED_ACTIVATIONS_PER_ADDRESS', 50, { min: 1, max: 1_000_000 }), windowSeconds: common.rateLimitWindowSeconds },
    }),
    slotShards: slotShardsSetting(env),
    usedUpMemory: Object.freeze({
      cards: envInt(env, 'USED_UP_MEMORY_CARDS', 1_000, { min: 0, max: 1_000_000 }),
      redeemers: envInt(env, 'USED_UP_MEMORY_REDEEMERS', 1_000_000, { min: 0, max: 100_000_000 }),
    }),
    relay: Object.freeze({
      intervalMs: envInt(env, 'CREDIT_RELAY_INTERVAL_MS', 1000, { min: 10, max: 600_000 }),
      batchSize: envInt(env, 'CREDIT_RELAY_BATCH_SIZE', 50, { min: 1, max: 1000 }),
      leaseMs: envInt(env, 'CREDIT_RELAY_LEASE_MS', 30_000, { min: 1000, max: 3_600_000 }),
      quickRetryDelaysMs: Object.freeze(quickRetryDelays(env)),
    }),
  });
}

/** CREDIT_RETRY_DELAYS_MS: comma-separated delays of the quick retries after a failed first credit; empty for none. */
function quickRetryDelays(env: Env): number[] {
  const raw = env.CREDIT_RETRY_DELAYS_MS;
  if (raw === undefined) return [250, 1000, 3000];
  const delays = envList(env, 'CREDIT_RETRY_DELAYS_MS', []).map(Number);
  if (delays.length > 10 || delays.some((delay) => !Number.isInteger(delay) || delay < 10 || delay > 60_000)) {
    throw new ConfigError('CREDIT_RETRY_DELAYS_MS', `must list at most 10 delays in milliseconds, each from 10 to 60000, got "${raw}"`);
  }
  return delays;
}

/** GIFT_CARD_SLOT_SHARDS: `auto` (the default) or a number of shards from 1 to 64. */
function slotShardsSetting(env: Env): SlotShardsSetting {
  const raw = envString(env, 'GIFT_CARD_SLOT_SHARDS', 'auto').trim().toLowerCase();
  if (raw === 'auto') return 'auto';
  const shards = Number(raw);
  if (!/^\d+$/.test(raw) || shards < 1 || shards > MAX_SLOT_SHARDS) {
    throw new ConfigError('GIFT_CARD_SLOT_SHARDS', `must be "auto" or a number of shards from 1 to ${MAX_SLOT_SHARDS}, got "${env.GIFT_CARD_SLOT_SHARDS}"`);
  }
  return shards;
}
