// Builds the wallet subgraph (no port, no globals): GraphQL for wallets, the ledger, spend
// and transfer, and the internal credit route for other services.

import { readFileSync } from 'node:fs';
import {
  Counter,
  createLogger,
  createMetrics,
  createSubgraphApp,
  Gauge,
  Histogram,
  type Logger,
  postToService,
  remoteTokenVerifier,
  ServiceCallError,
  ServiceUnavailableError,
  type SubgraphApp,
} from '@giftpay/common';
import { checkPoolFits, connectDatabase } from '@giftpay/common/db';
import { parse } from 'graphql';
import type { WalletConfig } from './config.ts';
import * as schema from './db/schema.ts';
import { internalBalanceRoute, internalCreditBatchRoute, internalCreditRoute } from './internal-credit.route.ts';
import { createLedger, type Ledger } from './ledger.service.ts';
import { createResolvers } from './resolvers/index.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

/**
 * `read` once per `ttlMs` at most: calls within it, or while a read is in flight, share it
 * (the two gauges of one scrape read the ledger once); a failed read is not kept. One value
 * and a clock, so no cache library.
 */
function memoizeFor<T>(ttlMs: number, read: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T>; settled: boolean } | undefined;
  return () => {
    const now = performance.now();
    if (last && (!last.settled || now - last.at < ttlMs)) return last.value;
    const entry = { at: now, value: read(), settled: false };
    last = entry;
    entry.value.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (last === entry) last = undefined;
      },
    );
    return entry.value;
  };
}

export interface WalletServer extends SubgraphApp {
  readonly logger: Logger;
  readonly ledger: Ledger;
  close(): Promise<void>;
}

export async function createServer({
  config,
  logger = createLogger('wallet', config.logLevel),
}: {
  config: WalletConfig;
  logger?: Logger;
}): Promise<WalletServer> {
  const metrics = createMetrics('wallet');
  const database = connectDatabase(config.databaseUrl, schema, {
    applicationName: 'giftpay-wallet',
    maxConnections: config.dbPoolMax,
    timeouts: config.databaseTimeouts,
  });
  await checkPoolFits(database.sql, config.dbPoolMax, logger);
  const ledger = createLedger({
    db: database.db,
    defaultCurrency: config.defaultCurrency,
    metrics: {
      batchSize: new Histogram({
        name: 'wallet_post_batch_size',
        help: 'Spends, or credits, posted together in one wallet.post_entry statement',
        labelNames: ['operation'],
        buckets: [2, 5, 10, 20, 50],
        registers: [metrics.registry],
      }),
      postedAlone: new Counter({
        name: 'wallet_posted_alone_total',
        help: 'Entries of a batch posted again alone: refused (left alone by halving a batch with a refused entry), timeout (a lock or statement timeout), failed (anything else)',
        labelNames: ['reason'],
        registers: [metrics.registry],
      }),
    },
    async findUserIdByUsername(username) {
      try {
        const user = await postToService<{ id: string }>({
          url: `${config.accountsUrl}/internal/users/lookup`,
          serviceToken: config.internalApiToken,
          body: { username },
          timeoutMs: config.serviceCallTimeoutMs,
        });
        return user.id;
      } catch (error) {
        if (error instanceof ServiceCallError && error.status === 404) return null;
        // Accounts unreachable, too slow or itself unavailable: nothing has moved yet (the
        // lookup comes before the transaction), so the caller may send the same request again.
        if (error instanceof ServiceCallError && (error.status === null || error.status === 502 || error.status === 503 || error.status === 504)) {
          logger.warn({ err: error }, 'accounts did not answer a username lookup');
          throw new ServiceUnavailableError(undefined, 1, 'accounts');
        }
        throw error;
      }
    },
  });
  // The books for Prometheus: a full read of the ledger, so at most once a minute however often
  // it is scraped; a failed read keeps the last figures (and logs) rather than fail the scrape.
  const books = memoizeFor(config.ledgerReportCacheMs, () => ledger.report());
  new Gauge({
    name: 'wallet_ledger_imbalance',
    help: 'Per currency, in minor units: wallets - gift cards redeemed + spent - adjustments (alert when not 0)',
    labelNames: ['currency'],
    registers: [metrics.registry],
    async collect() {
      const report = await books().catch((error: unknown) => logger.warn({ err: error }, 'ledger report for the metrics failed'));
      if (report) for (const currency of report.currencies) this.set({ currency: currency.currencyCode }, Number(currency.imbalance));
    },
  });
  new Gauge({
    name: 'wallet_ledger_balanced',
    help: '1 when the books balance (every currency at 0, every balance the sum of its entries, every entry with its other side), else 0',
    registers: [metrics.registry],
    async collect() {
      const report = await books().catch(() => undefined);
      if (report) this.set(report.balanced ? 1 : 0);
    },
  });
  // Fetched from the start on until they come, so the first request finds them.
  const { verifier, stop: stopFetchingKeys } = remoteTokenVerifier(config.jwksUrl, config.jwt, logger);
  const app = await createSubgraphApp({
    metrics,
    metricsToken: config.metricsToken,
    httpLimits: config.httpLimits,
    maxBodyBytes: config.subgraphMaxBodyBytes,
    name: 'wallet',
    typeDefs,
    resolvers: createResolvers(ledger),
    verifier,
    gatewayToken: config.gatewayToken,
    previousGatewayToken: config.previousGatewayToken,
    logger,
    mode: config.mode,
    routes: [
      internalCreditRoute(ledger, config.internalApiToken, logger),
      internalCreditBatchRoute(ledger, config.internalApiToken, logger),
      internalBalanceRoute(ledger, config.internalApiToken),
    ],
    ready: async () => {
      await database.sql`select 1`;
      return true;
    },
  }).catch((error: unknown) => {
    stopFetchingKeys();
    throw error;
  });
  return {
    ...app,
    logger,
    ledger,
    async close() {
      stopFetchingKeys();
      await app.stop();
      await database.close();
    },
  };
}
