// What the gateway serves to browser clients such as Apollo Sandbox: the landing page in
// development, introspection, CORS for allowed origins only, and CSRF protection.

import { createTestDatabase, type Stack, startStack } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: Stack;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url, env: { NODE_ENV: 'development' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('the gateway for browsers', () => {
  it('serves the Apollo Sandbox landing page to a browser in development', async () => {
    const response = await fetch(`${stack.gatewayUrl}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toMatch(/sandbox/i);
  });

  it('answers introspection in development', async () => {
    const result = await stack.graphql<{ __schema: { queryType: { name: string } } }>('{ __schema { queryType { name } } }');
    expect(result.data?.__schema.queryType.name).toBe('Query');
  });

  it('answers a CORS preflight from Apollo Studio, and gives no CORS headers to another origin', async () => {
    const preflight = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://studio.apollographql.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://studio.apollographql.com');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a simple cross-site request (CSRF): a GET query or a text/plain POST without a preflight header', async () => {
    const get = await fetch(`${stack.gatewayUrl}/graphql?query=${encodeURIComponent('{ me { id } }')}`);
    expect(get.status).toBe(400);
    const textPost = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"query":"{ me { id } }"}',
    });
    expect(textPost.status).toBe(400);
    const withPreflightHeader = await fetch(`${stack.gatewayUrl}/graphql?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(withPreflightHeader.status).toBe(200);
  });

  it('refuses a mutation sent with GET', async () => {
    const response = await fetch(
      `${stack.gatewayUrl}/graphql?query=${encodeURIComponent('mutation { logIn(input: { username: "x", password: "y" }) { token } }')}`,
      {
        headers: { 'apollo-require-preflight': 'true' },
      },
    );
    expect(response.status).toBe(405);
  });

  it('refuses a body over the size limit with 413 and invalid JSON with 400', async () => {
    const big = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ me { id } } # ${'x'.repeat(200_000)}` }),
    });
    expect(big.status).toBe(413);
    const broken = await fetch(`${stack.gatewayUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(broken.status).toBe(400);
    expect((await fetch(`${stack.gatewayUrl}/health`)).status).toBe(200);
  });

  it('echoes the x-request-id it was given, and makes one when absent', async () => {
    const given = await fetch(`${stack.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-123' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(given.headers.get('x-request-id')).toBe('trace-me-123');
    const made = await stack.graphql('{ me { id } }');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
