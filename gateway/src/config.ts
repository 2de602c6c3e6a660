// The gateway's configuration, parsed once from the environment.

import { fileURLToPath } from 'node:url';
import {
  type CommonConfig,
  type Env,
  envBoolean,
  envInt,
  envList,
  envString,
  envUrl,
  gatewayTokenSetting,
  loadCommonConfig,
  MAX_PAGE_SIZE,
  withSecretFiles,
} from '@giftpay/common';
import type { OperationLimits } from './operation-limits.ts';

export interface GatewayConfig extends CommonConfig {
  readonly port: number;
  readonly supergraphPath: string;
  /** Base URLs of the subgraphs, overriding the routing URLs in the supergraph. */
  readonly subgraphUrls: Readonly<Record<'accounts' | 'wallet' | 'gift-cards', string>>;
  readonly jwksUrl: string;
  readonly corsOrigins: readonly string[];
  readonly maxBodyBytes: number;
  readonly introspection: boolean;
  readonly healthTimeoutMs: number;
  /** How long one call to a subgraph may take before the gateway gives up on it. */
  readonly subgraphTimeoutMs: number;
  /** Take the client address from X-Forwarded-For (behind a load balancer) instead of the socket. */
  readonly trustProxy: boolean;
  /** Operation limits; null when LIMITS_ENABLED=false (for measuring their cost, never in production). */
  readonly limits: OperationLimits | null;
  /** Hide "Did you mean …?" suggestions, which reveal the schema, from validation errors. */
  readonly hideSuggestions: boolean;
  /** Serve the GraphiQL IDE, bundled from npm (no CDN), at GET /graphiql. */
  readonly graphiql: boolean;
  /**
   * GATEWAY_TOKEN, presented to every subgraph with the caller this gateway verified, so that
   * none checks the token's signature again (gateway-identity.ts); null forwards the token alone.
   */
  readonly gatewayToken: string | null;
}

export function loadConfig(environment: Env): GatewayConfig {
  // The gateway's secrets, METRICS_TOKEN and GATEWAY_TOKEN, may come from their *_FILE variables.
  const env = withSecretFiles(environment, []);
  const common = loadCommonConfig(env);
  const accountsUrl = envUrl(env, 'ACCOUNTS_URL', 'http://localhost:4001');
  return Object.freeze({
    ...common,
    port: envInt(env, 'GATEWAY_PORT', 4000, { min: 0, max: 65535 }),
    supergraphPath: envString(env, 'SUPERGRAPH_PATH', fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url))),
    subgraphUrls: Object.freeze({
      accounts: accountsUrl,
      wallet: envUrl(env, 'WALLET_URL', 'http://localhost:4002'),
      'gift-cards': envUrl(env, 'GIFT_CARDS_URL', 'http://localhost:4003'),
    }),
    jwksUrl: envUrl(env, 'JWKS_URL', `${accountsUrl}/.well-known/jwks.json`),
    corsOrigins: envList(env, 'CORS_ORIGINS', ['https://studio.apollographql.com']),
    maxBodyBytes: envInt(env, 'MAX_BODY_BYTES', 100_000, { min: 1024, max: 10_000_000 }),
    introspection: envBoolean(env, 'INTROSPECTION', common.mode !== 'production'),
    healthTimeoutMs: envInt(env, 'HEALTH_TIMEOUT_MS', 2000, { min: 100, max: 30_000 }),
    subgraphTimeoutMs: envInt(env, 'SUBGRAPH_TIMEOUT_MS', 10_000, { min: 100, max: 300_000 }),
    trustProxy: envBoolean(env, 'TRUST_PROXY', false),
    limits: envBoolean(env, 'LIMITS_ENABLED', true)
      ? Object.freeze({
          maxTokens: envInt(env, 'MAX_TOKENS', 2000, { min: 10, max: 1_000_000 }),
          maxDepth: envInt(env, 'MAX_DEPTH', 10, { min: 1, max: 100 }),
          maxAliases: envInt(env, 'MAX_ALIASES', 15, { min: 0, max: 10_000 }),
          maxRootFields: envInt(env, 'MAX_ROOT_FIELDS', 10, { min: 1, max: 10_000 }),
          maxDirectives: envInt(env, 'MAX_DIRECTIVES', 10, { min: 0, max: 10_000 }),
          maxCost: envInt(env, 'MAX_COST', 5000, { min: 1, max: 100_000_000 }),
          maxPageSize: MAX_PAGE_SIZE,
        })
      : null,
    hideSuggestions: envBoolean(env, 'HIDE_SUGGESTIONS', common.mode === 'production'),
    graphiql: envBoolean(env, 'GRAPHIQL_ENABLED', common.mode !== 'production'),
    gatewayToken: gatewayTokenSetting(env, common),
  });
}
