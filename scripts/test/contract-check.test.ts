// The contract check (scripts/contract-check.ts) fails on anything of the contract missing or
// spelled differently (defaults included) or a required argument it lacks, allows an output field to promise more, reports what api.next adds as
// pending without failing, and passes the committed API schema.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONTRACT_PATH, checkContract, NEXT_CONTRACT_PATH } from '../contract-check.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

const contract = `
scalar Decimal
type Query { card(id: ID!): Card cards(first: Int = 20): [Card!]! }
type Card { id: ID! status: Status! value: Decimal }
enum Status { ACTIVE DISABLED }
input IssueInput { count: Int! = 1 code: String }
`;

describe('checkContract', () => {
  it('finds nothing missing when the schema holds the contract and more', () => {
    const schema = `${contract}\ntype Extra { id: ID! }`;
    expect(checkContract(schema, contract, null)).toEqual({ missing: [], pending: [] });
  });

  it.each([
    ['a type', contract.replace('scalar Decimal', 'scalar Money').replaceAll('Decimal', 'Money'), 'type Decimal'],
    ['a field', contract.replace(' status: Status!', ''), 'Card.status'],
    ['an argument', contract.replace('card(id: ID!)', 'card'), 'Query.card(id)'],
    ['an enum value', contract.replace('ACTIVE DISABLED', 'ACTIVE'), 'Status.DISABLED'],
    ['an input field', contract.replace(' code: String', ''), 'IssueInput.code'],
  ])('fails when %s of the contract is missing', (_kind, schema, line) => {
    expect(checkContract(schema, contract, null).missing).toContain(line);
  });

  it('fails when a field, an argument or an input field has another type', () => {
    const schema = contract.replace('id: ID!)', 'id: String!)').replace('value: Decimal', 'value: String').replace('count: Int! = 1', 'count: Int = 1');
    expect(checkContract(schema, contract, null).missing).toEqual([
      'Query.card(id) is String!, not ID!',
      'Card.value is String, not Decimal',
      'IssueInput.count is Int, not Int!',
    ]);
  });

  it('fails when an argument or an input field has another default, or none', () => {
    const schema = contract.replace('first: Int = 20', 'first: Int = 10').replace('count: Int! = 1', 'count: Int!');
    expect(checkContract(schema, contract, null).missing).toEqual([
      'Query.cards(first) defaults to 10, not 20',
      'IssueInput.count defaults to no default, not 1',
    ]);
  });

  it('fails when an argument or an input field the contract lacks is required, and allows it optional or with a default', () => {
    const required = contract.replace('card(id: ID!)', 'card(id: ID!, shard: Int!)').replace('code: String }', 'code: String note: String! }');
    expect(checkContract(required, contract, null).missing).toEqual([
      'Query.card(shard) is required and not in the contract',
      'IssueInput.note is required and not in the contract',
    ]);
    const optional = contract.replace('card(id: ID!)', 'card(id: ID!, shard: Int)').replace('code: String }', 'code: String note: String! = "" }');
    expect(checkContract(optional, contract, null).missing).toEqual([]);
  });

  it('fails when a type is of another kind', () => {
    const schema = contract.replace('enum Status { ACTIVE DISABLED }', 'scalar Status');
    expect(checkContract(schema, contract, null).missing).toEqual(['type Status is a GraphQLScalarType, not a GraphQLEnumType']);
  });

  it('lets an output field be non-null where the contract allows null, but not an input field', () => {
    const schema = contract.replace('value: Decimal', 'value: Decimal!').replace('code: String', 'code: String!');
    expect(checkContract(schema, contract, null).missing).toEqual(['IssueInput.code is String!, not String']);
  });

  it('reports what the next contract adds as pending, not missing', () => {
    const next = 'type Query { disabledCards(first: Int): [Card!]! }\ntype Card { disabledAt: String }';
    expect(checkContract(contract, contract, next)).toEqual({ missing: [], pending: ['Query.disabledCards', 'Card.disabledAt'] });
  });

  it('finds the whole contract in the committed API schema', () => {
    const report = checkContract(
      readFileSync(join(root, 'schema/schema.graphql'), 'utf8'),
      readFileSync(CONTRACT_PATH, 'utf8'),
      readFileSync(NEXT_CONTRACT_PATH, 'utf8'),
    );
    expect(report.missing).toEqual([]);
  });
});
