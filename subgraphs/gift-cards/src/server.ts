// Builds the gift-cards subgraph (no port, no globals): GraphQL for cards and redemptions,
// and the relay that delivers owed wallet credits.

import { readFileSync } from 'node:fs';
import { Counter, createLogger, createMetrics, createSubgraphApp, Gauge, Histogram, type Logger, remoteTokenVerifier, type SubgraphApp } from '@giftpay/common';
import { checkPoolFits, connectDatabase } from '@giftpay/common/db';
import { parse } from 'graphql';
import type { GiftCardsConfig } from './config.ts';
import * as schema from './db/schema.ts';
import { createGiftCardsService, type GiftCardsService } from './gift-cards.service.ts';
import { createRedemptionService, type RedemptionService, startCreditRelay } from './redemption.service.ts';
import { createResolvers } from './resolvers/index.ts';
import { createWalletClient } from './wallet-client.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export interface GiftCardsServer extends SubgraphApp {
  readonly logger: Logger;
  readonly cards: GiftCardsService;
  readonly redemptions: RedemptionService;
  close(): Promise<void>;
}

export async function createServer({
  config,
  logger = createLogger('gift-cards', config.logLevel),
  startRelay = true,
}: {
  config: GiftCardsConfig;
  logger?: Logger;
  /** Tests drive the relay by hand with `redemptions.relayOnce()`. */
  startRelay?: boolean;
}): Promise<GiftCardsServer> {
  const metrics = createMetrics('gift-cards');
  const claims = new Counter({
    name: 'giftcard_activations_total',
    help: 'activateGiftCard answers: claimed, or the refusal code',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  const deliveries = new Counter({
    name: 'giftcard_credit_deliveries_total',
    help: 'Wallet credit deliveries: credited, failed (to be retried) or parked (refused for good)',
    labelNames: ['result'],
    registers: [metrics.registry],
  });
  const claimBatchSize = new Histogram({
    name: 'giftcard_claim_batch_size',
    help: 'Claims of one card sent together in one claim_slots statement',
    buckets: [1, 2, 5, 10, 20, 50],
    registers: [metrics.registry],
  });
  const claimsAlone = new Counter({
    name: 'giftcard_claims_alone_total',
    help: "Claims of a batch made again alone through claim_slot: held (a sharded card's last shards held by other claims) or rolled_back (the batch rolled back by a deadlock or serialization failure)",
    labelNames: ['reason'],
    registers: [metrics.registry],
  });
  const database = connectDatabase(config.databaseUrl, schema, {
    applicationName: 'giftpay-gift-cards',
    maxConnections: config.dbPoolMax,
    timeouts: config.databaseTimeouts,
  });
  await checkPoolFits(database.sql, config.dbPoolMax, logger);
  const cards = createGiftCardsService({ db: database.db, codeKey: config.codeKey, defaultCurrency: config.defaultCurrency, slotShards: config.slotShards });
  const redemptions = createRedemptionService({
    db: database.db,
    wallet: createWalletClient({ walletUrl: config.walletUrl, serviceToken: config.internalApiToken, timeoutMs: config.walletCreditTimeoutMs }),
    codeKey: config.codeKey,
    logger,
    leaseMs: config.relay.leaseMs,
    limits: config.failedActivations,
    metrics: { claims, deliveries, claimBatchSize, claimsAlone },
    batchSize: config.relay.batchSize,
    quickRetryDelaysMs: config.relay.quickRetryDelaysMs,
    usedUpMemory: config.usedUpMemory,
  });
  new Gauge({
    name: 'giftcard_credits_pending',
    help: 'Credits claimed but not yet confirmed by the wallet (the outbox), parked ones included',
    registers: [metrics.registry],
    async collect() {
      this.set(await redemptions.pendingCount());
    },
  });
  new Gauge({
    name: 'giftcard_credits_parked',
    help: 'Owed credits the wallet refused for good, waiting for an operator (alert when above 0)',
    registers: [metrics.registry],
    async collect() {
      this.set(await redemptions.parkedCount());
    },
  });
  // Fetched from the start on until they come, so the first request finds them.
  const { verifier, stop: stopFetchingKeys } = remoteTokenVerifier(config.jwksUrl, config.jwt, logger);
  const app = await createSubgraphApp({
    metrics,
    metricsToken: config.metricsToken,
    httpLimits: config.httpLimits,
    maxBodyBytes: config.subgraphMaxBodyBytes,
    name: 'gift-cards',
    typeDefs,
    resolvers: createResolvers(cards, redemptions),
    verifier,
    gatewayToken: config.gatewayToken,
    previousGatewayToken: config.previousGatewayToken,
    logger,
    mode: config.mode,
    ready: async () => {
      await database.sql`select 1`;
      return true;
    },
  }).catch((error: unknown) => {
    stopFetchingKeys();
    throw error;
  });
  const relay = startRelay ? startCreditRelay(redemptions, config.relay.intervalMs, logger) : null;
  return {
    ...app,
    logger,
    cards,
    redemptions,
    async close() {
      stopFetchingKeys();
      await relay?.stop();
      redemptions.close();
      await app.stop();
      await database.close();
    },
  };
}
