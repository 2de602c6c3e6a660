// patches/@apollo__gateway@2.14.4.patch: two things Apollo Gateway did on every request only to
// throw them away. A node-fetch Request was built for each subgraph call (its URL parsed, its
// headers copied) and handed to hooks that did not read it; and the result shaping built a
// "Cannot return null" error, with its stack trace, for a field the subgraph had already
// answered with an error, which the gateway then dropped. These tests fail when the patch is
// lost (an upgrade, an install that skipped it) or when its behaviour drifts.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fromGateway = createRequire(fileURLToPath(import.meta.resolve('@apollo/gateway')));

interface ShapedResponse {
  data: unknown;
  errors: { message: string }[];
}
const { computeResponse } = fromGateway('./resultShaping.js') as {
  computeResponse(options: {
    operation: unknown;
    variables: Record<string, unknown>;
    input: unknown;
    introspectionHandling: () => unknown;
    keepErrors?: boolean;
  }): ShapedResponse;
};
const { Supergraph, operationFromDocument } = fromGateway('@apollo/federation-internals') as {
  Supergraph: { build(sdl: string): { apiSchema(): unknown } };
  operationFromDocument(schema: unknown, document: unknown, options?: { validate?: boolean }): unknown;
};

describe('result shaping (patched)', () => {
  const supergraph = Supergraph.build(readFileSync(fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url)), 'utf8'));
  const operation = operationFromDocument(
    supergraph.apiSchema(),
    parse('mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }'),
  );
  const shape = (keepErrors?: boolean) =>
    computeResponse({
      operation,
      variables: { code: 'X' },
      input: { activateGiftCard: null },
      introspectionHandling: () => null,
      ...(keepErrors === undefined ? {} : { keepErrors }),
    });

  it('still reports a non-nullable field left null when no subgraph said why', () => {
    const shaped = shape();
    expect(shaped.data).toBeNull();
    expect(shaped.errors.map((error) => error.message)).toEqual(['Cannot return null for non-nullable field Mutation.activateGiftCard.']);
  });

  it('builds no such error when the subgraphs already answered with theirs, and shapes the data alike', () => {
    const shaped = shape(false);
    expect(shaped.data).toBeNull();
    expect(shaped.errors).toEqual([]);
  });
});

describe('a subgraph call (patched)', () => {
  // Apollo Gateway's own node-fetch, whose Request each call built: counted while these tests run.
  const nodeFetch = fromGateway('node-fetch') as { Request: new (...args: unknown[]) => object };
  const built: unknown[] = [];
  const original = nodeFetch.Request;
  beforeAll(() => {
    nodeFetch.Request = class Counted extends original {
      constructor(...args: unknown[]) {
        super(...args);
        built.push(args[0]);
      }
    };
  });
  afterAll(() => {
    nodeFetch.Request = original;
  });

  const url = 'http://127.0.0.1:1/graphql';
  const request = { query: '{ __typename }', http: { method: 'POST', url, headers: new Map([['content-type', 'application/json']]) } };
  const answer = (status: number) =>
    ({
      ok: status === 200,
      status,
      statusText: status === 200 ? 'OK' : 'Bad Gateway',
      url,
      headers: new Headers({ 'content-type': 'application/json' }),
      json: async () => ({ data: { __typename: 'Query' } }),
      text: async () => '{"errors":[{"message":"down"}]}',
    }) as unknown;
  const send = (source: RemoteGraphQLDataSource) =>
    (source as unknown as { sendRequest(request: unknown, context: unknown): Promise<{ data?: unknown }> }).sendRequest(request, {});

  it('builds no node-fetch Request for a call that succeeds', async () => {
    built.length = 0;
    const source = new RemoteGraphQLDataSource({ url, fetcher: (async () => answer(200)) as unknown as RemoteGraphQLDataSource['fetcher'] });
    expect((await send(source)).data).toEqual({ __typename: 'Query' });
    expect(built).toEqual([]);
  });

  it('still hands a Request to didEncounterError when the call fails, and to an overriding parseBody', async () => {
    built.length = 0;
    const seen: unknown[] = [];
    class Watching extends RemoteGraphQLDataSource {
      override didEncounterError(error: Error, fetchRequest: unknown): void {
        seen.push(fetchRequest);
        throw error;
      }
    }
    await expect(send(new Watching({ url, fetcher: (async () => answer(502)) as unknown as RemoteGraphQLDataSource['fetcher'] }))).rejects.toThrow(/502/);
    expect(seen).toHaveLength(1);
    expect((seen[0] as { url: string }).url).toBe(url);

    class Parsing extends RemoteGraphQLDataSource {
      override async parseBody(response: Parameters<RemoteGraphQLDataSource['parseBody']>[0], fetchRequest?: unknown): Promise<object | string> {
        seen.push(fetchRequest);
        return super.parseBody(response);
      }
    }
    await send(new Parsing({ url, fetcher: (async () => answer(200)) as unknown as RemoteGraphQLDataSource['fetcher'] }));
    expect((seen[1] as { url: string }).url).toBe(url);
    expect(built).toEqual([url, url]);
  });
});
