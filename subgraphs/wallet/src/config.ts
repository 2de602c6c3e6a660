// The wallet subgraph's configuration, parsed once from the environment.

import { randomBytes } from 'node:crypto';
import {
  type CommonConfig,
  ConfigError,
  type Env,
  envInt,
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

export interface WalletConfig extends CommonConfig {
  readonly port: number;
  readonly databaseUrl: string;
  readonly dbPoolMax: number;
  readonly defaultCurrency: string;
  readonly accountsUrl: string;
  readonly jwksUrl: string;
  readonly internalApiToken: string;
  /** GATEWAY_TOKEN: requests carrying it come from the gateway, with the caller it verified (gateway-identity.ts). */
  readonly gatewayToken: string | null;
  /** GATEWAY_TOKEN_PREVIOUS: during a rotation, the credential still believed beside GATEWAY_TOKEN. */
  readonly previousGatewayToken: string | null;
  readonly serviceCallTimeoutMs: number;
  /** How long the metrics reuse one ledger report (a full read of the ledger), in ms; 0 reads it at every scrape. */
  readonly ledgerReportCacheMs: number;
}

export function loadConfig(environment: Env): WalletConfig {
  const env = withSecretFiles(environment, ['DATABASE_URL', 'INTERNAL_API_TOKEN']);
  const common = loadCommonConfig(env);
  const defaultCurrency = envString(env, 'DEFAULT_CURRENCY', 'IRR').toUpperCase();
  if (!isSupportedCurrency(defaultCurrency)) {
    throw new ConfigError('DEFAULT_CURRENCY', `must be one of ${supportedCurrencies().join(', ')}, got "${defaultCurrency}"`);
  }
  let internalApiToken = envOptional(env, 'INTERNAL_API_TOKEN');
  if (!internalApiToken) {
    if (common.mode === 'production') throw new ConfigError('INTERNAL_API_TOKEN', 'is required when NODE_ENV=production');
    internalApiToken = loadOrCreateDevSecret(common.dataDir, 'internal-api-token', () => randomBytes(32).toString('base64url'));
  }
  if (internalApiToken.length < 32) throw new ConfigError('INTERNAL_API_TOKEN', 'must be at least 32 characters');
  const accountsUrl = envUrl(env, 'ACCOUNTS_URL', 'http://localhost:4001');
  const gatewayToken = gatewayTokenSetting(env, common);
  return Object.freeze({
    ...common,
    port: envInt(env, 'WALLET_PORT', 4002, { min: 0, max: 65535 }),
    databaseUrl: envRequired(env, 'DATABASE_URL'),
    dbPoolMax: envInt(env, 'DB_POOL_MAX', 10, { min: 1, max: 200 }),
    defaultCurrency,
    accountsUrl,
    jwksUrl: envUrl(env, 'JWKS_URL', `${accountsUrl}/.well-known/jwks.json`),
    internalApiToken,
    gatewayToken,
    previousGatewayToken: previousGatewayTokenSetting(env, gatewayToken),
    serviceCallTimeoutMs: envInt(env, 'SERVICE_CALL_TIMEOUT_MS', 2000, { min: 100, max: 60_000 }),
    ledgerReportCacheMs: envInt(env, 'LEDGER_REPORT_CACHE_MS', 60_000, { min: 0, max: 3_600_000 }),
  });
}
