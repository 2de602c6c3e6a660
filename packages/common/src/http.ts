// The HTTP edge every GiftPay service shares, on plain node:http: GraphQL through Apollo
// Server's executeHTTPGraphQLRequest, a request id on every request, body-size limits,
// CORS for browser clients, health and a few plain JSON routes. Tests use the same server
// on port 0.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { SpanStatusCode } from '@opentelemetry/api';
import { DomainError } from './errors.ts';
import type { Logger } from './logger.ts';
import { routeLabel, type ServiceMetrics } from './metrics.ts';
import { serviceTokenMatches } from './service-client.ts';
import { inServerSpan } from './tracing.ts';

export interface RequestInfo {
  readonly requestId: string;
  readonly headers: IncomingMessage['headers'];
  readonly url: URL;
  readonly remoteAddress: string;
}

export interface JsonRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  handle(request: RequestInfo & { body: unknown }): Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;
}

export interface HttpAppOptions<TContext extends BaseContext> {
  /** The service's name, on its trace spans. */
  readonly service?: string;
  readonly logger: Logger;
  readonly apollo: ApolloServer<TContext>;
  /** Builds the GraphQL context; throwing an UNAUTHENTICATED DomainError answers 401 before execution. */
  readonly context: (request: RequestInfo) => Promise<TContext>;
  readonly ready: () => Promise<boolean>;
  readonly routes?: readonly JsonRoute[];
  readonly maxBodyBytes?: number;
  readonly corsOrigins?: readonly string[];
  /** Served at GET /metrics in Prometheus' text format; every request is counted and timed. */
  readonly metrics?: ServiceMetrics;
  /** When set, GET /metrics needs `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken?: string | null;
  /** Bounded waits and connections at the HTTP edge (HTTP_* settings). */
  readonly httpLimits?: HttpLimits;
  /** Called before GraphQL runs; may refuse the request with a status and GraphQL error body. */
  readonly guard?: (request: RequestInfo, body: unknown) => { status: number; code: string; message: string } | null;
}

export interface HttpLimits {
  /** Time to receive a request's headers (a client that trickles them is cut off). */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request, body included (Node's default is 5 minutes). */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** Connections open at once; past it new ones are dropped. */
  readonly maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
});

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether `value` is a request id this edge accepts from a caller (else it makes its own). */
export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID_PATTERN.test(value);
}

export function requestIdOf(headers: IncomingMessage['headers']): string {
  const given = headers['x-request-id'];
  return isRequestId(given) ? given : randomUUID();
}

class BodyTooLargeError extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function graphqlErrorBody(code: string, message: string, extra: Record<string, unknown> = {}): unknown {
  return { errors: [{ message, extensions: { code, ...extra } }] };
}

const APPLICATION_JSON = 'application/json; charset=utf-8';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';

/** The media type without parameters, lower-cased: `Application/JSON; charset=utf-8` is `application/json`. */
function mediaTypeEssence(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * The media type of a GraphQL response this module writes itself (invalid JSON, a body too
 * large, a refused or unauthenticated request), chosen from the Accept header as Apollo Server
 * chooses for its own: GraphQL over HTTP says the server MUST answer in the client's preferred
 * media type it supports. The highest q wins, then the more specific range, then the earlier
 * one in the header, then application/json. When neither type is acceptable the spec lets the
 * server ignore Accept; application/json then, like Apollo Server's own error responses, rather
 * than a 406 that would hide the actual error.
 */
function graphqlResponseMediaType(accept: string | undefined): string {
  if (!accept) return APPLICATION_JSON;
  const ranges = accept.split(',').map((part, index) => {
    const [range = '', ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const qParameter = parameters.find((parameter) => parameter.startsWith('q='));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    return { range, q: Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0, index };
  });
  let best: { type: string; q: number; specificity: number; index: number } | null = null;
  for (const [essence, type] of [
    ['application/json', APPLICATION_JSON],
    ['application/graphql-response+json', GRAPHQL_RESPONSE_JSON],
  ] as const) {
    // The most specific range that matches the type decides its q (RFC 9110, 12.5.1).
    let match: { q: number; specificity: number; index: number } | null = null;
    for (const { range, q, index } of ranges) {
      const specificity = range === essence ? 2 : range === 'application/*' ? 1 : range === '*/*' ? 0 : -1;
      if (specificity > (match?.specificity ?? -1)) match = { q, specificity, index };
    }
    if (!match || match.q === 0) continue;
    if (
      !best ||
      match.q > best.q ||
      (match.q === best.q && (match.specificity > best.specificity || (match.specificity === best.specificity && match.index < best.index)))
    ) {
      best = { type, ...match };
    }
  }
  return best?.type ?? APPLICATION_JSON;
}

/** A GraphQL error response this module writes itself, in the media type the client accepts. */
function sendGraphQLError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
): void {
  sendJson(res, status, graphqlErrorBody(code, message, options.extra), {
    'content-type': graphqlResponseMediaType(req.headers.accept),
    'cache-control': GRAPHQL_CACHE_CONTROL,
    ...options.headers,
  });
}

/**
 * Every GraphQL answer is private to its caller and about money: no browser, proxy or CDN may
 * keep it. Set here rather than by Apollo's cache-control plugin, which is off (it would work
 * out the same "no-store" for every answer, from hints that no type or field gives).
 */
const GRAPHQL_CACHE_CONTROL = 'no-store';

const CORS_ALLOWED_HEADERS =
  'content-type, authorization, apollo-require-preflight, x-apollo-operation-name, x-request-id, apollographql-client-name, apollographql-client-version';

export function createHttpApp<TContext extends BaseContext>(options: HttpAppOptions<TContext>): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const routes = options.routes ?? [];

  const knownRoutes = ['/graphql', '/health', '/health/live', '/metrics', ...routes.map((route) => route.path)];

  async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: ServiceMetrics): Promise<void> {
    const authorization = req.headers.authorization;
    const given = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    if (options.metricsToken && !serviceTokenMatches(given, options.metricsToken)) {
      sendJson(res, 401, { error: 'metrics need `Authorization: Bearer <METRICS_TOKEN>`' }, { 'www-authenticate': 'Bearer' });
      return;
    }
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const started = performance.now();
    res.once('finish', () => {
      // One access-log line per request: the path only, never the query string (a GET may carry variables).
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      // Health checks and scrapes arrive every few seconds: only at debug level.
      const level = path.startsWith('/health') || path === '/metrics' ? 'debug' : 'info';
      options.logger[level](
        { requestId, method: req.method, path, status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 },
        'request',
      );
    });
    if (options.metrics) {
      const { httpRequests, httpDuration } = options.metrics;
      const route = routeLabel(new URL(req.url ?? '/', 'http://localhost').pathname, knownRoutes);
      const stop = httpDuration.startTimer({ route });
      res.once('finish', () => {
        stop();
        httpRequests.inc({ route, method: req.method ?? 'OTHER', status: String(res.statusCode) });
      });
    }
    res.setHeader('x-request-id', requestId);
    const origin = req.headers.origin;
    if (origin && (corsOrigins.has(origin) || corsOrigins.has('*'))) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-expose-headers', 'x-request-id');
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const info: RequestInfo = { requestId, headers: req.headers, url, remoteAddress: req.socket.remoteAddress ?? '' };

    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': CORS_ALLOWED_HEADERS,
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }

    if (url.pathname === '/metrics' && req.method === 'GET' && options.metrics) {
      await serveMetrics(req, res, options.metrics);
      return;
    }

    // Liveness: the process answers. Readiness (/health below) also needs the database or, at the
    // gateway, every subgraph; an orchestrator restarts on the first and routes on the second.
    if (url.pathname === '/health/live' && req.method === 'GET') {
      sendJson(res, 200, { status: 'alive' });
      return;
    }

    if (url.pathname === '/health' && req.method === 'GET') {
      const ready = await options.ready().catch(() => false);
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable' });
      return;
    }

    const route = routes.find((candidate) => candidate.path === url.pathname && candidate.method === req.method);
    if (route) {
      let body: unknown;
      if (req.method === 'POST') {
        const text = await readBody(req, maxBodyBytes);
        body = text === '' ? undefined : JSON.parse(text);
      }
      const result = await route.handle({ ...info, body });
      sendJson(res, result.status, result.body, result.headers);
      return;
    }

    if (url.pathname !== '/graphql') {
      sendJson(res, 404, { error: 'Not found. GraphQL is served at /graphql.' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      sendGraphQLError(req, res, 405, 'BAD_REQUEST', 'GraphQL accepts GET and POST only.', { headers: { allow: 'GET, POST' } });
      return;
    }

    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBodyBytes);
      const contentType = mediaTypeEssence(req.headers['content-type'] ?? '');
      if (contentType === 'application/json' || contentType === 'application/graphql-response+json') {
        try {
          body = JSON.parse(text);
        } catch {
          sendGraphQLError(req, res, 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
          return;
        }
      } else {
        body = text;
      }
    }

    const refusal = options.guard?.(info, body);
    if (refusal) {
      sendGraphQLError(req, res, refusal.status, refusal.code, refusal.message);
      return;
    }

    let contextValue: TContext;
    try {
      contextValue = await options.context(info);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') {
        sendGraphQLError(req, res, 401, error.code, error.message, { headers: { 'www-authenticate': 'Bearer' } });
        return;
      }
      if (error instanceof DomainError && error.code === 'SERVICE_UNAVAILABLE') {
        const retryAfter = Number(error.details.retryAfterSeconds ?? 1);
        sendGraphQLError(req, res, 503, error.code, error.message, {
          headers: { 'retry-after': String(retryAfter) },
          extra: { retryAfterSeconds: retryAfter },
        });
        return;
      }
      throw error;
    }

    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await options.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method, headers, search: url.search, body },
      context: async () => contextValue,
    });
    res.setHeader('cache-control', GRAPHQL_CACHE_CONTROL);
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  const limits = options.httpLimits ?? DEFAULT_HTTP_LIMITS;
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (req, res) => {
      const requestId = requestIdOf(req.headers);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      inServerSpan(req.headers, { service: options.service ?? 'giftpay', method: req.method ?? 'GET', path, requestId }, async (span) => {
        res.once('finish', () => {
          span.setAttribute('http.response.status_code', res.statusCode);
          if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        });
        await handle(req, res, requestId);
      }).catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (error instanceof BodyTooLargeError) {
          sendGraphQLError(req, res, 413, 'BAD_REQUEST', `The request body is larger than ${maxBodyBytes} bytes.`, { headers: { connection: 'close' } });
          return;
        }
        if (error instanceof SyntaxError) {
          sendGraphQLError(req, res, 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
          return;
        }
        const requestId = String(res.getHeader('x-request-id') ?? '');
        options.logger.error({ err: error, requestId }, 'request failed');
        sendGraphQLError(req, res, 500, 'INTERNAL_SERVER_ERROR', `Something went wrong on our side (request ${requestId}).`, { extra: { requestId } });
      });
    },
  );
  server.maxConnections = limits.maxConnections;
  return server;
}

export interface Listening {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens (port 0 picks a free port) and returns the base URL and a graceful close. */
export async function listen(server: Server, port: number, host: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        // Stop accepting, let in-flight requests finish, drop idle keep-alive sockets.
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
