// What a client's tools (Sandbox, GraphiQL, GraphQL Code Generator) learn from the running
// gateway's introspection: the scalars name their specifications (@specifiedBy), and every
// element of the API carries the description written in the subgraphs' SDL.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type Stack, startStack } from '@giftpay/testing';
import { buildClientSchema, buildSchema, getIntrospectionQuery, type IntrospectionQuery, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMissingDescriptions } from '../../scripts/check-descriptions.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

let stack: Stack;

beforeAll(async () => {
  const database = await createTestDatabase();
  stack = await startStack({ databaseUrl: database.url });
});

afterAll(async () => {
  await stack?.close();
});

describe('introspection through the gateway', () => {
  it('gives the specification URL of Decimal (docs/api.md) and of DateTime (scalars.graphql.org)', async () => {
    const result = await stack.graphql<{
      decimal: { kind: string; specifiedByURL: string | null };
      dateTime: { kind: string; specifiedByURL: string | null };
    }>('{ decimal: __type(name: "Decimal") { kind specifiedByURL } dateTime: __type(name: "DateTime") { kind specifiedByURL } }');
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      decimal: { kind: 'SCALAR', specifiedByURL: 'docs/api.md#decimal' },
      dateTime: { kind: 'SCALAR', specifiedByURL: 'https://scalars.graphql.org/andimarek/date-time' },
    });
  });

  it('describes every type, field, argument, enum value and input field, as schema/schema.graphql does', async () => {
    const result = await stack.graphql<IntrospectionQuery>(getIntrospectionQuery({ specifiedByUrl: true, inputValueDeprecation: true }));
    expect(result.errors).toBeUndefined();
    const served = buildClientSchema(result.data as IntrospectionQuery);
    expect(findMissingDescriptions(printSchema(served))).toEqual([]);
    // The same schema, descriptions and all, as the committed file clients generate code from.
    const committed = buildSchema(readFileSync(join(root, 'schema/schema.graphql'), 'utf8'));
    expect(printSchema(served)).toBe(printSchema(committed));
  });
});
