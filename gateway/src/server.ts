// Builds the gateway (no port, no globals): @apollo/gateway over the committed supergraph,
// JWT verification before any subgraph is called, the caller's token and request id
// forwarded to every subgraph, and /health that checks every subgraph.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import {
  bearerToken,
  CLIENT_ADDRESS_HEADER,
  CONTRACT_ERROR_CODES,
  createErrorFormatter,
  createHttpApp,
  createLogger,
  createMetrics,
  encodePrincipal,
  errorLoggingPlugin,
  GATEWAY_TOKEN_HEADER,
  Histogram,
  type HttpAnswer,
  HttpTimeoutError,
  httpCall,
  injectTraceContext,
  type Logger,
  metricsPlugin,
  PRINCIPAL_HEADER,
  type Principal,
  remoteTokenVerifier,
  responseLike,
  SubgraphUnavailableError,
  type TokenVerifier,
  UnauthenticatedError,
} from '@giftpay/common';
import { GraphQLError } from 'graphql';
import type { GatewayConfig } from './config.ts';
import { graphiqlHandler } from './graphiql.ts';
import { checkTokens, operationLimitRules } from './operation-limits.ts';

export interface GatewayContext {
  readonly requestId: string;
  readonly token: string | null;
  readonly principal: Principal | null;
  readonly clientAddress: string;
  readonly logger: Logger;
}

export interface GatewayServer {
  readonly server: Server;
  readonly logger: Logger;
  close(): Promise<void>;
}

/**
 * A subgraph answers a request it refuses as a whole (a malformed variable, say) with HTTP
 * 400 and a GraphQL error body, as GraphQL over HTTP says. Apollo's data source would turn
 * that into a bare "400: Bad Request"; this one keeps the subgraph's own error when it carries
 * a contract code, and leaves anything else to be masked.
 */
type FetcherResponse = Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0];

class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override async errorFromResponse(response: FetcherResponse): Promise<GraphQLError> {
    const fallback = await super.errorFromResponse(response);
    const body = (fallback.extensions.response as { body?: unknown } | undefined)?.body;
    const first = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | undefined)?.errors?.[0];
    const code = first?.extensions?.code;
    if (typeof code === 'string' && CONTRACT_ERROR_CODES.has(code) && typeof first?.message === 'string') {
      return new GraphQLError(first.message, { extensions: { code } });
    }
    return fallback;
  }
}

/** Query parameters that would carry a token in a URL, where logs and proxies keep it. */
const TOKEN_QUERY_PARAMETERS = ['access_token', 'token', 'jwt', 'authorization'];

async function subgraphReady(baseUrl: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Without a verifier given, tokens are checked against the accounts JWKS, whose keys are
 * fetched from the start on until they come (fetchSigningKeysAtStart); until then the gateway
 * is not ready (GET /health answers 503).
 */
export async function createServer({
  config,
  logger = createLogger('gateway', config.logLevel),
  verifier: givenVerifier,
}: {
  config: GatewayConfig;
  logger?: Logger;
  verifier?: TokenVerifier;
}): Promise<GatewayServer> {
  const { verifier: tokens, stop: stopFetchingKeys } = givenVerifier
    ? { verifier: givenVerifier, stop: () => {} }
    : remoteTokenVerifier(config.jwksUrl, config.jwt, logger);
  const subgraphUrls: Record<string, string> = config.subgraphUrls;
  const metrics = createMetrics('gateway');
  const subgraphDuration = new Histogram({
    name: 'subgraph_request_duration_seconds',
    help: 'Time of one gateway-to-subgraph call, by subgraph and outcome',
    labelNames: ['subgraph', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(config.supergraphPath, 'utf8'),
    buildService({ name, url }) {
      const base = subgraphUrls[name];
      return new SubgraphDataSource({
        url: base ? `${base}/graphql` : url,
        // undici's request API over one keep-alive Agent (packages/common/src/http-client.ts),
        // with a deadline per call; Apollo reads the answer through a Response-shaped object.
        fetcher: (async (input: string, init: { method?: string; headers?: Record<string, string>; body?: string }) => {
          const stop = subgraphDuration.startTimer({ subgraph: name });
          let answer: HttpAnswer;
          try {
            answer = await httpCall(input, {
              method: init.method === 'GET' ? 'GET' : 'POST',
              ...(init.headers ? { headers: init.headers } : {}),
              ...(init.body !== undefined ? { body: init.body } : {}),
              timeoutMs: config.subgraphTimeoutMs,
            });
          } catch (error) {
            const reason = error instanceof HttpTimeoutError ? 'timeout' : 'unreachable';
            stop({ outcome: reason });
            throw new SubgraphUnavailableError(name, reason);
          }
          stop({ outcome: String(answer.status) });
          const response = responseLike(input, answer);
          // A proxy or load balancer in front of a subgraph says 502/503/504 when no replica can answer.
          if (answer.status === 502 || answer.status === 503 || answer.status === 504) {
            const retryAfter = Number(response.headers.get('retry-after'));
            throw new SubgraphUnavailableError(name, 'unavailable', Number.isInteger(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
          }
          return response;
        }) as unknown as RemoteGraphQLDataSource['fetcher'],
        willSendRequest({ request, context }) {
          // The token goes on as it came: a subgraph without GATEWAY_TOKEN verifies it itself.
          if (context.token) request.http?.headers.set('authorization', `Bearer ${context.token}`);
          // With the credential, the caller this gateway verified, which the subgraph believes
          // instead of checking the signature again; it still enforces its own rules.
          if (config.gatewayToken) {
            request.http?.headers.set(GATEWAY_TOKEN_HEADER, config.gatewayToken);
            if (context.principal) request.http?.headers.set(PRINCIPAL_HEADER, encodePrincipal(context.principal));
          }
          if (context.requestId) request.http?.headers.set('x-request-id', context.requestId);
          // The active span is the gateway's fetch span for this subgraph: the subgraph's span nests under it.
          for (const [name, value] of Object.entries(injectTraceContext({}))) request.http?.headers.set(name, value);
          // Always set, so a client cannot choose the address its attempts are counted under.
          request.http?.headers.set(CLIENT_ADDRESS_HEADER, context.clientAddress);
        },
      });
    },
    logger: {
      debug: (message) => logger.debug(String(message)),
      info: (message) => logger.info(String(message)),
      warn: (message) => logger.warn(String(message)),
      error: (message) => logger.error(String(message)),
    },
  });

  const apollo = new ApolloServer<GatewayContext>({
    gateway,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    // runService owns SIGTERM/SIGINT and stops everything in order; Apollo's own handlers would race it.
    stopOnTerminationSignals: false,
    hideSchemaDetailsFromClientErrors: config.hideSuggestions,
    validationRules: config.limits ? operationLimitRules(config.limits) : [],
    // Non-production serves the embedded Apollo Sandbox landing page (Apollo Server's default).
    csrfPrevention: true,
    // No cache hints: nothing in the supergraph carries @cacheControl and every answer is private
    // to its caller, so Apollo's cache-control plugin would only work out "do not cache" each time.
    plugins: [
      ApolloServerPluginCacheControlDisabled(),
      errorLoggingPlugin<GatewayContext>(logger, { trustDownstream: true }),
      metricsPlugin<GatewayContext>(metrics),
    ],
    formatError: createErrorFormatter({ trustDownstream: true }),
  });
  await apollo.start().catch((error: unknown) => {
    stopFetchingKeys();
    throw error;
  });

  const server = createHttpApp<GatewayContext>({
    httpLimits: config.httpLimits,
    service: 'gateway',
    logger,
    apollo,
    maxBodyBytes: config.maxBodyBytes,
    corsOrigins: config.corsOrigins,
    metrics,
    metricsToken: config.metricsToken,
    guard(request, body) {
      if (!config.limits) return null;
      const query =
        typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { query?: unknown }).query : request.url.searchParams.get('query');
      const problem = typeof query === 'string' ? checkTokens(query, config.limits.maxTokens) : null;
      return problem ? { status: 400, code: 'GRAPHQL_VALIDATION_FAILED', message: problem } : null;
    },
    async ready() {
      const checks = await Promise.all([...Object.values(subgraphUrls).map((url) => subgraphReady(url, config.healthTimeoutMs)), tokens.ready?.() ?? true]);
      return checks.every(Boolean);
    },
    async context(request) {
      if (TOKEN_QUERY_PARAMETERS.some((name) => request.url.searchParams.has(name))) {
        throw new UnauthenticatedError('Tokens are accepted only in the Authorization header, never in the URL.');
      }
      const authorization = request.headers.authorization;
      const token = bearerToken(typeof authorization === 'string' ? authorization : undefined);
      const principal = token ? await tokens.verify(token) : null;
      const forwardedFor = request.headers['x-forwarded-for'];
      // The right-most entry is the one our own proxy appended; anything left of it the client may have written.
      const proxied = config.trustProxy && typeof forwardedFor === 'string' ? forwardedFor.split(',').at(-1)?.trim() : undefined;
      const clientAddress = proxied || request.remoteAddress || 'unknown';
      return { requestId: request.requestId, token, principal, clientAddress, logger: logger.child({ requestId: request.requestId }) };
    },
  });

  if (config.graphiql) {
    // GraphiQL's page and files are static and public: answered before the GraphQL app, which serves JSON.
    const serveGraphiql = graphiqlHandler();
    const app = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      try {
        if (serveGraphiql(req, res)) return;
      } catch (error) {
        logger.error({ err: error, path: req.url }, 'GraphiQL file not served');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('GraphiQL could not be served; see the gateway log.');
        return;
      }
      for (const listener of app) listener.call(server, req, res);
    });
  }

  return {
    server,
    logger,
    async close() {
      stopFetchingKeys();
      await apollo.stop();
    },
  };
}
