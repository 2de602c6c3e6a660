// The decision of `pnpm schema:check`: which schema changes fail it (breaking ones not on the
// allow list) and which pass (additions, descriptions, dangerous changes, allow-listed breaks),
// and which commit it compares with, judged from the facts git gives.

import { describe, expect, it } from 'vitest';
import { checkSchemaChange, chooseBase, formatReport, type GitFacts, parseAllowList } from '../schema-check.ts';

const BASE = `
type Query {
  card(id: ID!): Card
  cards: [Card!]!
}

type Card {
  id: ID!
  code: String!
  status: Status!
}

enum Status {
  ACTIVE
  DISABLED
}
`;

describe('checkSchemaChange', () => {
  it('fails on a removed field and names its path', async () => {
    const result = await checkSchemaChange(BASE, BASE.replace('  code: String!\n', ''), []);
    expect(result.blocking.map((change) => [change.level, change.path, change.type])).toEqual([['BREAKING', 'Card.code', 'FIELD_REMOVED']]);
  });

  it('passes an added field, reporting it as non-breaking', async () => {
    const result = await checkSchemaChange(BASE, BASE.replace('  code: String!\n', '  code: String!\n  last4: String!\n'), []);
    expect(result.blocking).toEqual([]);
    expect(result.changes.map((change) => [change.level, change.path])).toEqual([['NON_BREAKING', 'Card.last4']]);
  });

  it('passes a removal that the allow list names, marking it intentional', async () => {
    const result = await checkSchemaChange(BASE, BASE.replace('  code: String!\n', ''), ['Card.code']);
    expect(result.blocking).toEqual([]);
    expect(result.changes.map((change) => [change.level, change.path, change.allowed])).toEqual([['BREAKING', 'Card.code', true]]);
    expect(result.unusedAllowEntries).toEqual([]);
  });

  it('still fails on a breaking change the allow list does not name, beside one it does', async () => {
    const current = BASE.replace('  code: String!\n', '').replace('  cards: [Card!]!\n', '');
    const result = await checkSchemaChange(BASE, current, ['Card.code']);
    expect(result.blocking.map((change) => change.path)).toEqual(['Query.cards']);
  });

  it('passes descriptions added and changed, a new enum value and @specifiedBy, none of which breaks a client', async () => {
    const described = `
"""Reads."""
type Query {
  """One card."""
  card("""Its id.""" id: ID!): Card
  cards: [Card!]!
}

type Card {
  id: ID!
  code: String!
  status: Status!
}

enum Status {
  """Redeemable."""
  ACTIVE
  DISABLED
  EXPIRED
}

scalar Instant @specifiedBy(url: "https://example.com/instant")
`;
    const withScalar = `${BASE}\nscalar Instant\n`;
    const result = await checkSchemaChange(withScalar, described, []);
    expect(result.blocking).toEqual([]);
    const levels = new Set(result.changes.map((change) => change.level));
    expect(levels).toEqual(new Set(['DANGEROUS', 'NON_BREAKING']));
    expect(result.changes.map((change) => change.path)).toEqual(expect.arrayContaining(['Query', 'Query.card', 'Query.card.id', 'Status.EXPIRED']));
  });

  it('reports allow-list entries that match no breaking change, so they are cleared after a release', async () => {
    const result = await checkSchemaChange(BASE, BASE, ['Card.code', 'Query.cards']);
    expect(result.changes).toEqual([]);
    expect(result.unusedAllowEntries).toEqual(['Card.code', 'Query.cards']);
  });

  it('passes everything when the base had no API schema yet', async () => {
    const result = await checkSchemaChange(null, BASE, []);
    expect(result.changes).toEqual([]);
    expect(result.blocking).toEqual([]);
  });
});

describe('parseAllowList', () => {
  it('reads one path a line and ignores comments and blank lines', () => {
    const text = '# Removed on purpose, announced in 2026-11:\nCard.code  # replaced by last4\n\n   \nQuery.cards\n';
    expect(parseAllowList(text)).toEqual(['Card.code', 'Query.cards']);
  });
});

describe('formatReport', () => {
  it('prints each change with its criticality, the intentional ones marked, and what to do about a failure', async () => {
    const current = BASE.replace('  code: String!\n', '').replace('  cards: [Card!]!\n', '  cards: [Card!]!\n  count: Int!\n');
    const report = formatReport(await checkSchemaChange(BASE, current, ['Card.code', 'Card.gone']), 'main');
    expect(report).toMatch(/^BREAKING +Card\.code: .*removed.*\(intentional: listed in schema\/breaking-changes\.allow\)$/m);
    expect(report).toMatch(/^NON_BREAKING +Query\.count: /m);
    expect(report).toContain('2 change(s): 1 breaking (0 not allowed), 0 dangerous, 1 non-breaking.');
    expect(report).toContain('lists "Card.gone", which matches no breaking change');
    expect(report).not.toContain('would break existing clients');
  });

  it('tells how to mark a breaking change intentional when one fails the check', async () => {
    const report = formatReport(await checkSchemaChange(BASE, BASE.replace('  code: String!\n', ''), []), 'main');
    expect(report).toContain('would break existing clients');
    expect(report).toContain('schema/breaking-changes.allow');
  });
});

describe('chooseBase', () => {
  const onBranch: GitFacts = {
    override: undefined,
    mainBranch: { name: 'origin/main', commit: 'm'.repeat(40) },
    head: 'h'.repeat(40),
    mergeBase: 'b'.repeat(40),
    headParent: 'p'.repeat(40),
    shallow: false,
    schemaChangedSinceHead: false,
  };
  const onMain: GitFacts = { ...onBranch, mainBranch: { name: 'main', commit: 'h'.repeat(40) }, mergeBase: 'h'.repeat(40) };

  it('compares with SCHEMA_BASE_REF exactly when it is set', () => {
    expect(chooseBase({ ...onBranch, override: 'v1.4.0' })).toMatchObject({ kind: 'compare', ref: 'v1.4.0' });
  });

  it('compares a branch with main where the branch left it (the merge-base), not with main moved on since', () => {
    expect(chooseBase(onBranch)).toMatchObject({ kind: 'compare', ref: 'b'.repeat(40) });
  });

  it('compares uncommitted schema changes on main with HEAD', () => {
    expect(chooseBase({ ...onMain, schemaChangedSinceHead: true })).toMatchObject({ kind: 'compare', ref: 'HEAD' });
  });

  it('compares a clean checkout of main, as in CI, with the commit before HEAD', () => {
    expect(chooseBase(onMain)).toMatchObject({ kind: 'compare', ref: 'p'.repeat(40) });
  });

  it('cannot tell in a shallow clone that lacks HEAD~1, and says how to fix it', () => {
    expect(chooseBase({ ...onMain, headParent: null, shallow: true })).toMatchObject({ kind: 'cannot-tell', reason: expect.stringContaining('--deepen=1') });
  });

  it('has nothing to compare with at the first commit', () => {
    expect(chooseBase({ ...onMain, headParent: null })).toMatchObject({ kind: 'nothing-to-compare' });
  });

  it('asks for SCHEMA_BASE_REF when there is no main branch or no shared history', () => {
    expect(chooseBase({ ...onBranch, mainBranch: null, mergeBase: null })).toMatchObject({
      kind: 'cannot-tell',
      reason: expect.stringContaining('SCHEMA_BASE_REF'),
    });
    expect(chooseBase({ ...onBranch, mergeBase: null })).toMatchObject({ kind: 'cannot-tell', reason: expect.stringContaining('SCHEMA_BASE_REF') });
  });
});
