// Builds the accounts subgraph (no port, no globals): GraphQL, the JWKS, and the internal
// user look-up that the wallet uses for transfers.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createLogger,
  createMetrics,
  createSubgraphApp,
  createTokenVerifier,
  type JsonRoute,
  type Logger,
  loadOrCreateDevSecret,
  localKeySet,
  remoteKeySet,
  SERVICE_TOKEN_HEADER,
  type SubgraphApp,
  serviceTokenMatches,
} from '@giftpay/common';
import { checkPoolFits, connectDatabase } from '@giftpay/common/db';
import { parse } from 'graphql';
import { createAccountsService } from './accounts.service.ts';
import { type AccountsConfig, DEVELOPMENT_ADMIN_PASSWORD_FILE } from './config.ts';
import * as schema from './db/schema.ts';
import { createPasswordHasher } from './password-hasher.ts';
import { createResolvers } from './resolvers/index.ts';
import { createTokenSigner } from './token-signer.ts';

export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export interface AccountsServer extends SubgraphApp {
  readonly logger: Logger;
  readonly accounts: ReturnType<typeof createAccountsService>;
  close(): Promise<void>;
}

export async function createServer({
  config,
  logger = createLogger('accounts', config.logLevel),
}: {
  config: AccountsConfig;
  logger?: Logger;
}): Promise<AccountsServer> {
  const metrics = createMetrics('accounts');
  const database = connectDatabase(config.databaseUrl, schema, {
    applicationName: 'giftpay-accounts',
    maxConnections: config.dbPoolMax,
    timeouts: config.databaseTimeouts,
  });
  await checkPoolFits(database.sql, config.dbPoolMax, logger);
  const signer = await createTokenSigner({
    privateKeyPem: config.jwtPrivateKeyPem,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlSeconds: config.tokenTtlSeconds,
  });
  const hasher = await createPasswordHasher(config.passwordHash);
  const accounts = createAccountsService({ db: database.db, hasher, signer, failedLogins: config.failedLogins });
  if (config.bootstrapAdmin) {
    const admin = await accounts.ensureAdmin(config.bootstrapAdmin);
    logger.info({ userId: admin.id, username: admin.username }, 'bootstrap admin is present');
  } else if (config.developmentAdmin) {
    await ensureDevelopmentAdmin(accounts, config, logger);
  }

  const routes: JsonRoute[] = [
    {
      method: 'GET',
      path: '/.well-known/jwks.json',
      handle: async () => ({ status: 200, body: signer.jwks, headers: { 'cache-control': 'public, max-age=300' } }),
    },
    {
      method: 'POST',
      path: '/internal/users/lookup',
      async handle(request) {
        if (!serviceTokenMatches(request.headers[SERVICE_TOKEN_HEADER], config.internalApiToken)) {
          return { status: 401, body: { error: 'a service credential is required' } };
        }
        const username = (request.body as { username?: unknown } | undefined)?.username;
        if (typeof username !== 'string') return { status: 400, body: { error: 'username is required' } };
        const user = await accounts.findByUsername(username);
        return user ? { status: 200, body: { id: user.id, username: user.username } } : { status: 404, body: { error: 'no such user' } };
      },
    },
  ];

  const app = await createSubgraphApp({
    metrics,
    metricsToken: config.metricsToken,
    httpLimits: config.httpLimits,
    maxBodyBytes: config.subgraphMaxBodyBytes,
    name: 'accounts',
    typeDefs,
    resolvers: createResolvers(accounts),
    // Tokens are verified against this service's own keys, without a network round trip,
    // unless JWKS_URL names another provider's key set, as it does for the other services.
    verifier: createTokenVerifier(config.jwksUrl ? remoteKeySet(config.jwksUrl) : localKeySet(signer.jwks), config.jwt),
    gatewayToken: config.gatewayToken,
    previousGatewayToken: config.previousGatewayToken,
    logger,
    mode: config.mode,
    routes,
    ready: async () => {
      await database.sql`select 1`;
      return true;
    },
  });
  return {
    ...app,
    logger,
    accounts,
    async close() {
      await app.stop();
      await database.close();
    },
  };
}

/**
 * Development only (see AccountsConfig.developmentAdmin): when no account is an admin, creates
 * one with a password generated into DATA_DIR/secrets, so a first `pnpm start` can issue cards.
 * The log line names the file, never the password; `pnpm start` shows the password once.
 */
async function ensureDevelopmentAdmin(accounts: AccountsServer['accounts'], config: AccountsConfig, logger: Logger): Promise<void> {
  const admin = config.developmentAdmin;
  if (!admin || (await accounts.hasAdmin())) return;
  const password = loadOrCreateDevSecret(config.dataDir, DEVELOPMENT_ADMIN_PASSWORD_FILE, () => randomBytes(18).toString('base64url'));
  const created = await accounts.createAdminIfAbsent({ username: admin.username, password });
  if (created) {
    logger.warn(
      { event: 'development-admin-created', username: admin.username, passwordFile: admin.passwordFile },
      `created the development admin "${admin.username}"; its password is in ${admin.passwordFile} (set BOOTSTRAP_ADMIN_USERNAME and BOOTSTRAP_ADMIN_PASSWORD to choose your own)`,
    );
  } else if (!(await accounts.hasAdmin())) {
    // Another replica may have just created it; otherwise someone signed up as "admin".
    logger.warn(
      `no account is an admin and the name "${admin.username}" belongs to an ordinary account: set BOOTSTRAP_ADMIN_USERNAME and BOOTSTRAP_ADMIN_PASSWORD to have an admin`,
    );
  }
}
