// The description check (scripts/check-descriptions.ts) finds each kind of element left
// undocumented, and subgraphs that describe the same element differently; the committed API
// schema passes it.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findInconsistentDescriptions, findMissingDescriptions } from '../check-descriptions.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A small API schema where every element has a description. */
const documented = `
"Reads."
type Query {
  "A card by id."
  card("The card's id." id: ID!): Card
}
"A card."
type Card {
  "Its id."
  id: ID!
  "Its state."
  status: Status!
  "When it was made."
  createdAt: DateTime!
}
"Where a card stands."
enum Status {
  "Usable."
  ACTIVE
  "Not usable."
  DISABLED
}
"An instant."
scalar DateTime
"Changes."
type Mutation {
  "Makes a card."
  make("What to make." input: MakeInput!): Card!
}
"What to make."
input MakeInput {
  "How many."
  count: Int!
}
`;

/** The documented schema with one description taken away. */
function without(description: string): string {
  expect(documented).toContain(description);
  return documented.replace(description, '');
}

describe('findMissingDescriptions', () => {
  it('finds nothing missing in a schema where every element is described', () => {
    expect(findMissingDescriptions(documented)).toEqual([]);
  });

  it.each([
    ['a type', '"A card."', 'Card'],
    ['a field', '"Its state."', 'Card.status'],
    ['an argument', '"The card\'s id."', 'Query.card(id:)'],
    ['an enum value', '"Not usable."', 'Status.DISABLED'],
    ['an input field', '"How many."', 'MakeInput.count'],
    ['a custom scalar', '"An instant."', 'DateTime'],
    ['the mutation type', '"Changes."', 'Mutation'],
    ['an input type', '"What to make."\n', 'MakeInput'],
  ])('names %s that has no description', (_kind, description, coordinate) => {
    expect(findMissingDescriptions(without(description))).toEqual([coordinate]);
  });

  it('counts a blank description as missing', () => {
    expect(findMissingDescriptions(documented.replace('"Its id."', '"  "'))).toEqual(['Card.id']);
  });

  it('finds every element of the committed API schema described', () => {
    expect(findMissingDescriptions(readFileSync(join(root, 'schema/schema.graphql'), 'utf8'))).toEqual([]);
  });
});

describe('findInconsistentDescriptions', () => {
  const subgraph = (moneyDescription: string, field: string) => `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@shareable"])
type Query { "A field." ${field}: Money }
"${moneyDescription}"
type Money @shareable { "An amount." amount: String! }
`;

  it('names an element that two subgraphs describe differently', () => {
    const lines = findInconsistentDescriptions([
      { name: 'one', sdl: subgraph('An amount of money.', 'a') },
      { name: 'two', sdl: subgraph('Some money.', 'b') },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"Money"');
  });

  it('finds nothing when the subgraphs describe shared elements alike', () => {
    expect(
      findInconsistentDescriptions([
        { name: 'one', sdl: subgraph('An amount of money.', 'a') },
        { name: 'two', sdl: subgraph('An amount of money.', 'b') },
      ]),
    ).toEqual([]);
  });
});
