// The server bootstrap every subgraph shares: buildSubgraphSchema from the subgraph's own
// SDL with @auth enforced, Apollo Server with errors masked, the caller taken from the gateway
// (next to its credential) or its token verified here, and the HTTP edge from http.ts.

import type { Server } from 'node:http';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import type { DocumentNode } from 'graphql';
import { bearerToken, type Principal, type TokenVerifier } from './auth.ts';
import { enforceAuthDirectives } from './authorization.ts';
import type { RuntimeMode } from './config.ts';
import { createErrorFormatter, errorLoggingPlugin } from './errors.ts';
import { cameThroughGateway, decodePrincipal, GATEWAY_TOKEN_HEADER, PRINCIPAL_HEADER } from './gateway-identity.ts';
import { createHttpApp, type HttpLimits, type JsonRoute, type RequestInfo } from './http.ts';
import type { Logger } from './logger.ts';
import { metricsPlugin, type ServiceMetrics } from './metrics.ts';
import { CLIENT_ADDRESS_HEADER } from './service-client.ts';

export interface SubgraphContext {
  readonly requestId: string;
  readonly principal: Principal | null;
  /** The caller's raw bearer token, for calls this subgraph makes on the caller's behalf. */
  readonly token: string | null;
  /** The end client's address as the gateway saw it (or the direct caller's), for per-address limits. */
  readonly clientAddress: string | null;
  readonly logger: Logger;
}

export interface SubgraphAppOptions {
  readonly name: string;
  readonly typeDefs: DocumentNode;
  // biome-ignore lint/suspicious/noExplicitAny: resolver maps are typed per subgraph
  readonly resolvers: GraphQLResolverMap<any>;
  readonly verifier: TokenVerifier;
  /**
   * GATEWAY_TOKEN: a request carrying it is the gateway's, and its caller is the one the gateway
   * verified (gateway-identity.ts). Null: every request's bearer token is verified here.
   */
  readonly gatewayToken: string | null;
  /** GATEWAY_TOKEN_PREVIOUS: during a rotation, the credential believed beside `gatewayToken`. */
  readonly previousGatewayToken?: string | null;
  readonly logger: Logger;
  readonly mode: RuntimeMode;
  readonly ready: () => Promise<boolean>;
  readonly routes?: readonly JsonRoute[];
  readonly maxBodyBytes?: number;
  readonly metrics: ServiceMetrics;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken?: string | null;
  readonly httpLimits?: HttpLimits;
}

export interface SubgraphApp {
  readonly server: Server;
  readonly apollo: ApolloServer<SubgraphContext>;
  stop(): Promise<void>;
}

export async function createSubgraphApp(options: SubgraphAppOptions): Promise<SubgraphApp> {
  const { logger } = options;
  if (options.previousGatewayToken) {
    logger.warn('GATEWAY_TOKEN_PREVIOUS is set: the previous gateway credential is still believed; drop it once every gateway has the new one');
  }
  const schema = buildSubgraphSchema([{ typeDefs: options.typeDefs, resolvers: enforceAuthDirectives(options.typeDefs, options.resolvers) }]);
  const apollo = new ApolloServer<SubgraphContext>({
    schema,
    includeStacktraceInErrorResponses: false,
    // runService owns SIGTERM/SIGINT and stops everything in order; Apollo's own handlers would race it.
    stopOnTerminationSignals: false,
    // Subgraphs are called by the gateway, not browsers: no landing page, no CSRF preflight rule
    // (the gateway applies it to clients).
    csrfPrevention: false,
    introspection: options.mode !== 'production',
    // No Apollo Studio: federated traces would only tell callers our timings. No cache hints:
    // no type or field carries @cacheControl, every answer is private to its caller, and Apollo
    // Gateway reads no subgraph's Cache-Control; the plugin would wrap every resolver to work out
    // a policy that is always "do not cache" (docs/performance.md, tuning log).
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      errorLoggingPlugin(logger),
      metricsPlugin(options.metrics),
    ],
    formatError: createErrorFormatter(),
    logger: {
      debug: (message) => logger.debug(message),
      info: (message) => logger.info(message),
      warn: (message) => logger.warn(message),
      error: (message) => logger.error(message),
    },
  });
  await apollo.start();

  // With no gateway credential, every caller's token is checked here: not ready until the
  // signing keys are held. With one, the gateway's callers are checked by the gateway.
  const checksTokens = options.gatewayToken === null ? options.verifier.ready : undefined;
  const server = createHttpApp<SubgraphContext>({
    service: options.name,
    logger,
    apollo,
    ready: checksTokens ? async () => (await options.ready()) && (await checksTokens()) : options.ready,
    routes: options.routes ?? [],
    maxBodyBytes: options.maxBodyBytes ?? 1_000_000,
    metrics: options.metrics,
    ...(options.httpLimits ? { httpLimits: options.httpLimits } : {}),
    metricsToken: options.metricsToken ?? null,
    async context(request: RequestInfo) {
      const authorization = request.headers.authorization;
      const token = bearerToken(typeof authorization === 'string' ? authorization : undefined);
      const viaGateway = cameThroughGateway(request.headers[GATEWAY_TOKEN_HEADER], options.gatewayToken, options.previousGatewayToken ?? null);
      // Through the gateway, the caller is the one it verified (it answered 401 to a bad token
      // before calling any subgraph); from anywhere else, the token is verified here.
      const principal = viaGateway ? decodePrincipal(request.headers[PRINCIPAL_HEADER]) : token ? await options.verifier.verify(token) : null;
      // The gateway's client address is believed from the gateway; a subgraph with no
      // credential to tell the gateway apart believes it from anyone, as before GATEWAY_TOKEN.
      const forwarded = viaGateway || options.gatewayToken === null ? request.headers[CLIENT_ADDRESS_HEADER] : undefined;
      const clientAddress = (typeof forwarded === 'string' && forwarded !== '' ? forwarded : request.remoteAddress) || null;
      return { requestId: request.requestId, principal, token, clientAddress, logger: logger.child({ requestId: request.requestId }) };
    },
  });
  return {
    server,
    apollo,
    async stop() {
      await apollo.stop();
    },
  };
}
