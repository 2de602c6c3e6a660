// Hostile input at the gateway: query bombs, alias floods, fragment cycles, giant strings,
// deep nesting, bad JSON and content types, batches. Each is refused with the contract's
// code and a clear message, no subgraph is bothered, and the stack stays healthy.

import { createTestDatabase, type SignedIn, type Stack, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;
let production: Stack;
let user: SignedIn;
let subgraphRequests = 0;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({
    databaseUrl: database.url,
    env: { MAX_TOKENS: '400', MAX_DEPTH: '6', MAX_ALIASES: '5', MAX_ROOT_FIELDS: '3', MAX_DIRECTIVES: '3', MAX_COST: '500' },
  });
  production = await startStack({ databaseUrl: (await createTestDatabase()).url, env: { NODE_ENV: 'production' } });
  user = await stack.signUp();
  for (const running of [stack.accounts, stack.wallet, stack.giftCards]) {
    running.server.server.on('request', () => {
      subgraphRequests += 1;
    });
  }
});

afterAll(async () => {
  await stack?.close();
  await production?.close();
});

/** Posts `body` as it is; every answer, refusals included, must be a JSON GraphQL response. */
/** Posts `body` as it is; every answer, refusals included, must be a JSON GraphQL response. */
async function post(body: string, contentType = 'application/json', target: Stack = stack) {
  const response = await fetch(`${target.gatewayUrl}/graphql`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  let json: { errors?: { message: string; extensions?: { code?: string } }[]; data?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${response.status} answered with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, json };
}

const refusals: [string, () => string, RegExp][] = [
  ['a depth bomb', () => '{ me { wallet { transactions { edges { node { amount { amount } } } } } } }', /deeper than 6/],
  ['1,000 aliases', () => `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ')} }`, /tokens/],
  ['an alias flood under the token limit', () => `{ ${Array.from({ length: 8 }, (_, i) => `a${i}: __typename`).join(' ')} }`, /aliases/],
  ['too many root fields', () => '{ me { id } m2: me { id } m3: me { id } m4: me { id } }', /root fields|aliases/],
  ['a directive flood', () => '{ me @include(if: true) @skip(if: false) { id @include(if: true) @skip(if: false) } }', /directives/],
  ['an expensive list', () => '{ me { wallet { transactions(first: 100) { edges { node { id amount { amount } } } } } } }', /cost/],
  [
    'an expensive list behind a variable',
    () => 'query ($n: Int) { me { wallet { transactions(first: $n) { edges { node { id amount { amount } } } } } } }',
    /cost/,
  ],
  ['a fragment cycle', () => '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }', /cannot spread|cycle|spread itself/i],
  ['deeply nested inline fragments', () => `{ ${'... on Query { '.repeat(500)} __typename ${'} '.repeat(500)}}`, /tokens/],
  ['a deeply nested list literal', () => `{ me { wallet { transactions(first: ${'['.repeat(300)}1${']'.repeat(300)}) { edges { cursor } } } } }`, /tokens/],
  ['a field that does not exist', () => '{ me { nothingHere } }', /Cannot query field/],
];

describe('operations over the limits', () => {
  it.each(refusals)('refuses %s with GRAPHQL_VALIDATION_FAILED before any subgraph is called', async (_name, query, message) => {
    const before = subgraphRequests;
    const result = await post(JSON.stringify({ query: query() }));
    expect(result.status).toBe(400);
    expect(result.json.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.json.errors?.map((error) => error.message).join(' ')).toMatch(message);
    expect(subgraphRequests).toBe(before);
  });

  it('lets an operation within the limits through', async () => {
    const result = await stack.graphql<{ me: { wallet: { transactions: { edges: unknown[] } } } }>(
      '{ me { wallet { transactions(first: 5) { edges { node { id } } } } } }',
      {
        token: user.token,
      },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.me.wallet.transactions.edges).toEqual([]);
  });
});

describe('malformed requests', () => {
  it.each([
    ['invalid JSON', '{"query": ', /not valid JSON/],
    ['an empty body', '', /not valid JSON/],
    ['an empty object', '{}', /POST body missing/],
    ['a query that is not a string', '{"query": 42}', /must be strings/],
    ['an empty batch', '[]', /batching disabled/],
    ['a batch of operations', JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]), /batching disabled/],
  ])('refuses %s with 400 BAD_REQUEST', async (_name, body, message) => {
    const before = subgraphRequests;
    const result = await post(body);
    expect(result.status).toBe(400);
    expect(result.json.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
    expect(result.json.errors?.[0]?.message).toMatch(message);
    expect(subgraphRequests).toBe(before);
  });

  it.each([
    ['text/plain', /Cross-Site Request Forgery/],
    ['application/x-www-form-urlencoded', /Cross-Site Request Forgery/],
    ['multipart/form-data; boundary=x', /Cross-Site Request Forgery/],
    ['application/xml', /invalid Content-Type/],
  ])('refuses the content type %s with 400 BAD_REQUEST', async (contentType, message) => {
    const result = await post(JSON.stringify({ query: '{ __typename }' }), contentType);
    expect(result.status).toBe(400);
    expect(result.json.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
    expect(result.json.errors?.[0]?.message).toMatch(message);
  });

  it('answers a giant string where a code belongs GIFT_CARD_NOT_FOUND, as a code no card has', async () => {
    const result = await stack.graphql('mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { id } } }', {
      token: user.token,
      variables: { code: 'A'.repeat(90_000) },
    });
    expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['GIFT_CARD_NOT_FOUND']);
  });

  it('refuses deeply nested JSON in a variable it uses, without falling over', async () => {
    const nested = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const result = await post(`{"query":"query ($name: String!) { __type(name: $name) { name } }","variables":{"name":${nested}}}`);
    expect(result.status).toBe(400);
    expect(result.json.errors?.[0]?.message).toMatch(/\$name/);
    expect(result.json.errors?.[0]?.extensions?.code).toMatch(/^(BAD_USER_INPUT|BAD_REQUEST)$/);
    expect((await fetch(`${stack.gatewayUrl}/health`)).status).toBe(200);
  });
});

describe('in production', () => {
  it('hides field suggestions and refuses introspection', async () => {
    const typo = await post(JSON.stringify({ query: '{ mee { id } }' }), 'application/json', production);
    expect(typo.json.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(typo.json.errors?.[0]?.message).not.toMatch(/Did you mean/);
    const introspection = await post(JSON.stringify({ query: '{ __schema { types { name } } }' }), 'application/json', production);
    expect(introspection.json.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(introspection.json.data).toBeUndefined();
  });

  it('suggests fields in development', async () => {
    const typo = await post(JSON.stringify({ query: '{ mee { id } }' }));
    expect(typo.json.errors?.[0]?.message).toMatch(/Did you mean "me"/);
  });
});

describe('after hostile input', () => {
  it('is still healthy and serving', async () => {
    // Everything refused above, at once, then an ordinary request.
    const answers = await Promise.all(refusals.map(([, query]) => post(JSON.stringify({ query: query() }))));
    expect(answers.map((answer) => answer.status)).toEqual(refusals.map(() => 400));
    expect((await fetch(`${stack.gatewayUrl}/health`)).status).toBe(200);
    const me = await stack.graphql<{ me: { id: string } }>('{ me { id } }', { token: user.token });
    expect(me.data?.me.id).toBe(user.userId);
  });
});
