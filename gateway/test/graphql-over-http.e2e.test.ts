// The GraphQL over HTTP spec audit of `graphql-http` against the gateway, one test per audit,
// each pinned to the result we expect by its id: every MUST passes, and the SHOULDs and MAYs
// we fail on purpose (docs/architecture.md says why) are pinned as failing. A change either
// way fails its test: a pinned failure that starts to pass is a behaviour change to look at
// and pin anew, just as a pass that starts to fail.
//
// The audits run as a plain, non-browser client: no `apollo-require-preflight` header is added
// and CSRF prevention stays on. The audits CSRF prevention does turn away are MAYs about GET
// (a GET carries no content-type, so Apollo Server wants a preflight header); with the header
// Apollo Client sends they pass, which the last tests here check.

import { createTestDatabase, type Stack, startStack } from '@giftpay/testing';
import { type AuditResult, serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
});

afterAll(async () => {
  await stack?.close();
});

type Expected = AuditResult['status'];

const MUSTS = '4655 82A3 BF61 78D5 2C94 03D4 13EE B8B3 0220 0221 0222 28B9 1B7A';

const SHOULDS_AND_MAYS_THAT_PASS =
  '22EB 47DE 80D8 9C48 9ABE A5BF 423L LKJ0 LKJ1 LKJ2 LKJ3 34A2 6C00 6C01 6C02 6C03 8161 94B0 94B1 94B2 4760 4761 4762 4763 ' +
  '2EA1 58B0 58B1 58B2 58B3 428F B6DC BCF8 B7N8 8764 3E3A 865D 556A D586 51FE 74FF 5E5B 86EE';

/** The SHOULDs and MAYs the gateway fails on purpose (docs/architecture.md, "GraphQL over HTTP compliance"). */
const FAILING_ON_PURPOSE: Record<string, Expected> = {
  // Apollo Server answers 400 to any request it does not execute, whatever the media type.
  '572B': 'warn',
  FDE2: 'warn',
  '7B9B': 'warn',
  // CSRF prevention: a GET without a preflight header is refused.
  '5A70': 'notice',
  D6D5: 'notice',
  '6A70': 'notice',
};

/** Every audit graphql-http runs, by id, with the result we expect. */
const PINNED: Record<string, Expected> = {
  ...Object.fromEntries(MUSTS.split(' ').map((id) => [id, 'ok' as const])),
  ...Object.fromEntries(SHOULDS_AND_MAYS_THAT_PASS.split(' ').map((id) => [id, 'ok' as const])),
  ...FAILING_ON_PURPOSE,
};

/** How an audit's result reads in a test message: the reason, the status and the body it got. */
async function describeResult(result: AuditResult): Promise<string> {
  if (result.status === 'ok') return 'ok';
  const body = await result.response
    .clone()
    .text()
    .catch(() => '(body already read)');
  return `${result.status}: ${result.reason} (HTTP ${result.response.status}, ${result.response.headers.get('content-type')}): ${body.slice(0, 500)}`;
}

const audits = serverAudits({ url: () => `${stack.gatewayUrl}/graphql` });

describe('GraphQL over HTTP audit of the gateway', () => {
  it('pins every audit graphql-http runs, and only those', () => {
    expect(audits.map((audit) => audit.id).sort()).toEqual(Object.keys(PINNED).sort());
  });

  for (const audit of audits) {
    it(`${audit.id} ${audit.name} (pinned: ${PINNED[audit.id] ?? 'nothing'})`, async () => {
      // fn() throws only when the audit itself breaks (a network error, say): that fails the test.
      const result = await audit.fn();
      expect(result.status, `${audit.id} ${audit.name}: ${await describeResult(result)}`).toBe(PINNED[audit.id]);
    });
  }
});

describe('GraphQL over HTTP beyond the audit', () => {
  const post = (headers: Record<string, string>, body: string) => fetch(`${stack.gatewayUrl}/graphql`, { method: 'POST', headers, body });

  it.each([
    ['application/graphql-response+json', 'application/graphql-response+json'],
    ['application/json', 'application/json'],
    ['application/graphql-response+json, application/json;q=0.9', 'application/graphql-response+json'],
    ['application/json;q=0.5, application/graphql-response+json', 'application/graphql-response+json'],
    ['application/json, application/graphql-response+json', 'application/json'],
    ['*/*', 'application/json'],
    ['application/*;q=0.1, application/graphql-response+json;q=0', 'application/json'],
    ['text/html', 'application/json'],
  ])('answers its own errors (invalid JSON) with accept %s in %s', async (accept, mediaType) => {
    const response = await post({ 'content-type': 'application/json', accept }, '{ "not a JSON');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe(`${mediaType}; charset=utf-8`);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers a refused method and a missing token in the accepted media type too', async () => {
    const put = await fetch(`${stack.gatewayUrl}/graphql`, { method: 'PUT', headers: { accept: 'application/graphql-response+json' } });
    expect(put.status).toBe(405);
    expect(put.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    const tokenInUrl = await fetch(`${stack.gatewayUrl}/graphql?token=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(tokenInUrl.status).toBe(401);
    expect(tokenInUrl.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
  });

  it("tells every cache to keep no GraphQL answer: data, errors, the edge's own refusals, a GET, and a subgraph's", async () => {
    const { token } = await stack.signUp();
    const json = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const answers = {
      data: await post(json, JSON.stringify({ query: '{ me { username } }' })),
      validation: await post(json, JSON.stringify({ query: '{ nothingHere }' })),
      unauthenticated: await post({ 'content-type': 'application/json' }, JSON.stringify({ query: '{ me { username } }' })),
      invalidJson: await post({ 'content-type': 'application/json' }, '{ "not a JSON'),
      method: await fetch(`${stack.gatewayUrl}/graphql`, { method: 'PUT' }),
      get: await fetch(`${stack.gatewayUrl}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'apollo-require-preflight': 'true' } }),
      subgraph: await fetch(`${stack.wallet.listening.url}/graphql`, { method: 'POST', headers: json, body: JSON.stringify({ query: '{ __typename }' }) }),
    };
    expect(Object.fromEntries(Object.entries(answers).map(([name, response]) => [name, [response.status, response.headers.get('cache-control')]]))).toEqual({
      data: [200, 'no-store'],
      validation: [400, 'no-store'],
      unauthenticated: [200, 'no-store'],
      invalidJson: [400, 'no-store'],
      method: [405, 'no-store'],
      get: [200, 'no-store'],
      subgraph: [200, 'no-store'],
    });
    expect(await answers.data.json()).toMatchObject({ data: { me: { username: expect.any(String) } } });
  });

  it('parses the body of a POST whose content-type differs only in case and parameters', async () => {
    const response = await post({ 'content-type': 'Application/JSON; charset=UTF-8' }, JSON.stringify({ query: '{ __typename }' }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('serves a GET, variables included, to a client that sends the preflight header (CSRF prevention)', async () => {
    const url = new URL(`${stack.gatewayUrl}/graphql`);
    url.searchParams.set('query', 'query Type($name: String!) { __type(name: $name) { name } }');
    url.searchParams.set('variables', JSON.stringify({ name: 'Query' }));
    const refused = await fetch(url);
    expect(refused.status).toBe(400);
    const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true', accept: 'application/graphql-response+json' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/graphql-response+json');
    expect(await response.json()).toEqual({ data: { __type: { name: 'Query' } } });
  });
});
