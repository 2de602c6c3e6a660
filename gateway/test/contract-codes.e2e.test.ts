// Every kind of bad request and every fault a client can meet, through the gateway, answered
// with a code from the contract and no other: the request itself (not JSON, no query, a
// batch, a GET mutation, no CSRF header, too large), the token (none, bad, or good but the
// signing keys unreachable), the operation (invalid, over the limits), the caller's rights,
// the input, and the neighbours (a subgraph down, slow, or answering 503).

import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { CONTRACT_ERROR_CODES } from '@giftpay/common';
import {
  createTestDatabase,
  type ExtraGateway,
  type FaultyProxy,
  type SignedIn,
  type Stack,
  startFaultyProxy,
  startGateway,
  startStack,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let user: SignedIn;
let link: FaultyProxy;
let slowGateway: ExtraGateway;
let hangingJwks: Server;
let coldGateway: ExtraGateway;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
  user = await stack.signUp();
  link = await startFaultyProxy(stack.giftCards.listening.url);
  slowGateway = await startGateway({ ...stack.env, GIFT_CARDS_URL: link.url, SUBGRAPH_TIMEOUT_MS: '300' });
  // A JWKS that accepts connections and never answers: accounts hung.
  hangingJwks = createServer(() => {});
  await new Promise<void>((done) => hangingJwks.listen(0, '127.0.0.1', done));
  const port = (hangingJwks.address() as { port: number }).port;
  coldGateway = await startGateway({ ...stack.env, JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` });
});

afterAll(async () => {
  await coldGateway?.close();
  hangingJwks?.closeAllConnections();
  await new Promise((done) => hangingJwks?.close(done));
  await slowGateway?.close();
  await link?.close();
  await stack?.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly codes: string[];
  readonly body: { errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function send(name: string, url: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  const body = JSON.parse(text) as Answer['body'];
  const codes = (body.errors ?? []).map((error) => String(error.extensions?.code));
  // Every answer of this file, whatever its test expects besides: codes from the contract only.
  expect(
    codes.filter((code) => !CONTRACT_ERROR_CODES.has(code)),
    name,
  ).toEqual([]);
  expect(text, name).not.toMatch(/127\.0\.0\.1|ECONN|\.ts:\d+|SELECT |select /);
  return { status: response.status, headers: response.headers, codes, body };
}

function post(name: string, body: unknown, options: { token?: string; url?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return send(name, `${options.url ?? stack.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('a request the gateway does not accept', () => {
  it.each([
    ['not JSON', '{"query": "{ me { id } }"', 400],
    ['no query', { variables: {} }, 400],
    ['a batch', [{ query: '{ me { id } }' }, { query: '{ me { id } }' }], 400],
  ])('answers BAD_REQUEST to %s', async (name, body, status) => {
    const answer = await post(name, body);
    expect(answer.status).toBe(status);
    expect(answer.codes).toEqual(['BAD_REQUEST']);
  });

  it('answers BAD_REQUEST to a mutation sent with GET', async () => {
    const query = encodeURIComponent(
      'mutation { spend(input: { amount: { amount: "1", currencyCode: "IRR" }, description: "x", idempotencyKey: "get-spend" }) { transaction { id } } }',
    );
    const answer = await send('a GET mutation', `${stack.gatewayUrl}/graphql?query=${query}`, {
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${user.token}` },
    });
    expect(answer.status).toBe(405);
    expect(answer.codes).toEqual(['BAD_REQUEST']);
  });

  it('answers BAD_REQUEST to a GET without the CSRF preflight header', async () => {
    const answer = await send('a GET without CSRF header', `${stack.gatewayUrl}/graphql?query=${encodeURIComponent('{ __typename }')}`, {});
    expect(answer.status).toBe(400);
    expect(answer.codes).toEqual(['BAD_REQUEST']);
  });

  it('answers HTTP 413 with BAD_REQUEST to a body over the size limit', async () => {
    const answer = await post('too large', { query: `{ me { id } } # ${'x'.repeat(200_000)}` });
    expect(answer.status).toBe(413);
    expect(answer.codes).toEqual(['BAD_REQUEST']);
  });
});

describe('the token', () => {
  it('answers 401 UNAUTHENTICATED to a token that is not valid, and UNAUTHENTICATED on a field that needs a user', async () => {
    const bad = await post('a bad token', { query: '{ me { id } }' }, { token: 'not.a.token' });
    expect(bad.status).toBe(401);
    expect(bad.codes).toEqual(['UNAUTHENTICATED']);
    const none = await post('no token', {
      query:
        'mutation { spend(input: { amount: { amount: "1", currencyCode: "IRR" }, description: "x", idempotencyKey: "anonymous-spend" }) { transaction { id } } }',
    });
    expect(none.codes).toEqual(['UNAUTHENTICATED']);
  });

  it('answers 503 SERVICE_UNAVAILABLE with retryAfterSeconds, never UNAUTHENTICATED, to a valid token while the signing keys cannot be fetched', async () => {
    const answer = await post('keys unreachable', { query: '{ me { id } }' }, { token: user.token, url: coldGateway.url });
    expect(answer.status).toBe(503);
    expect(answer.codes).toEqual(['SERVICE_UNAVAILABLE']);
    expect(answer.body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('the operation, the rights and the input', () => {
  it('answers GRAPHQL_VALIDATION_FAILED, FORBIDDEN and BAD_USER_INPUT where each belongs', async () => {
    expect((await post('unknown field', { query: '{ nope }' }, { token: user.token })).codes).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect((await post('a syntax error', { query: '{ me { id }' }, { token: user.token })).codes).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect((await post('no such operation', { query: 'query A { me { id } }', operationName: 'B' }, { token: user.token })).codes).toEqual([
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    const tooDeep = `{ me { wallet { transactions { edges { node { id ${'__typename '.repeat(1)} } } } } } }`;
    expect((await post('deep enough', { query: tooDeep }, { token: user.token })).codes).toEqual([]);
    const forbidden = await post(
      'not an admin',
      { query: 'mutation { disableGiftCard(id: "00000000-0000-0000-0000-000000000000") { id } }' },
      { token: user.token },
    );
    expect(forbidden.codes).toEqual(['FORBIDDEN']);
    const negative = await post(
      'negative amount',
      {
        query:
          'mutation { spend(input: { amount: { amount: "-1", currencyCode: "IRR" }, description: "x", idempotencyKey: "negative-spend" }) { transaction { id } } }',
      },
      { token: user.token },
    );
    expect(negative.codes).toEqual(['BAD_USER_INPUT']);
  });
});

describe('a neighbour that fails', () => {
  const QUERY = '{ me { id } giftCard(id: "00000000-0000-0000-0000-000000000000") { id } }';

  it.each([
    ['hang', 'a subgraph past its deadline'],
    ['refuse', 'a subgraph answering 503'],
  ] as const)('answers SERVICE_UNAVAILABLE for the missing part when the link %s (%s), and the rest of the answer arrives', async (mode, name) => {
    link.mode = mode;
    try {
      const answer = await post(name, { query: QUERY }, { token: user.token, url: slowGateway.url });
      expect(answer.status).toBe(200);
      expect(answer.codes).toEqual(['SERVICE_UNAVAILABLE']);
      expect((answer.body as { data?: { me?: { id: string } } }).data?.me?.id).toBe(user.userId);
    } finally {
      link.mode = 'pass';
    }
  });
});

describe('an automatic persisted query', () => {
  it('the gateway does not hold answers BAD_REQUEST with the message APQ clients look for; sent with its query, it is then served by its hash alone', async () => {
    const query = '{ __typename }';
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } };
    const miss = await post('a persisted query not held yet', { extensions });
    expect(miss.codes).toEqual(['BAD_REQUEST']);
    expect(miss.body.errors?.[0]?.message).toBe('PersistedQueryNotFound');
    expect((await post('a persisted query sent with its query', { query, extensions })).codes).toEqual([]);
    const hit = await post('a persisted query held', { extensions });
    expect(hit.codes).toEqual([]);
    expect((hit.body as { data?: unknown }).data).toEqual({ __typename: 'Query' });
  });
});
