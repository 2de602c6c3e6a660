// The HTTP edge every GiftPay service shares, on plain node:http: GraphQL through Apollo
// Server's executeHTTPGraphQLRequest, a request id on every request, body-size limits,
// CORS for browser clients, health and a few plain JSON routes. Tests use the same server
// on port 0.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { DomainError } from './errors.ts';
import type { Logger } from './logger.ts';

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
  readonly logger: Logger;
  readonly apollo: ApolloServer<TContext>;
  /** Builds the GraphQL context; throwing an UNAUTHENTICATED DomainError answers 401 before execution. */
  readonly context: (request: RequestInfo) => Promise<TContext>;
  readonly ready: () => Promise<boolean>;
  readonly routes?: readonly JsonRoute[];
  readonly maxBodyBytes?: number;
  readonly corsOrigins?: readonly string[];
  /** Called before GraphQL runs; may refuse the request with a status and GraphQL error body. */
  readonly guard?: (request: RequestInfo, body: unknown) => { status: number; code: string; message: string } | null;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(headers: IncomingMessage['headers']): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
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

const CORS_ALLOWED_HEADERS =
  'content-type, authorization, apollo-require-preflight, x-apollo-operation-name, x-request-id, apollographql-client-name, apollographql-client-version';

export function createHttpApp<TContext extends BaseContext>(options: HttpAppOptions<TContext>): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const routes = options.routes ?? [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdOf(req.headers);
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
      sendJson(res, 405, graphqlErrorBody('BAD_REQUEST', 'GraphQL accepts GET and POST only.'), { allow: 'GET, POST' });
      return;
    }

    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req, maxBodyBytes);
      const contentType = req.headers['content-type'] ?? '';
      if (/^application\/(graphql-response\+)?json\b/i.test(contentType)) {
        try {
          body = JSON.parse(text);
        } catch {
          sendJson(res, 400, graphqlErrorBody('BAD_REQUEST', 'The request body is not valid JSON.'));
          return;
        }
      } else {
        body = text;
      }
    }

    const refusal = options.guard?.(info, body);
    if (refusal) {
      sendJson(res, refusal.status, graphqlErrorBody(refusal.code, refusal.message));
      return;
    }

    let contextValue: TContext;
    try {
      contextValue = await options.context(info);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') {
        sendJson(res, 401, graphqlErrorBody(error.code, error.message), { 'www-authenticate': 'Bearer' });
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
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof BodyTooLargeError) {
        sendJson(res, 413, graphqlErrorBody('BAD_REQUEST', `The request body is larger than ${maxBodyBytes} bytes.`), { connection: 'close' });
        return;
      }
      if (error instanceof SyntaxError) {
        sendJson(res, 400, graphqlErrorBody('BAD_REQUEST', 'The request body is not valid JSON.'));
        return;
      }
      const requestId = String(res.getHeader('x-request-id') ?? '');
      options.logger.error({ err: error, requestId }, 'request failed');
      sendJson(res, 500, graphqlErrorBody('INTERNAL_SERVER_ERROR', `Something went wrong on our side (request ${requestId}).`, { requestId }));
    });
  });
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
