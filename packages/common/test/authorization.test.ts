// @auth enforcement: fields and entity types marked @auth check the caller before the
// original resolver runs.

import { type GraphQLResolveInfo, parse } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import type { Principal } from '../src/auth.ts';
import { AUTH_DIRECTIVE_SDL, type AuthContext, checkRole, enforceAuthDirectives } from '../src/authorization.ts';
import { ForbiddenError, UnauthenticatedError } from '../src/errors.ts';

type Resolver = (source: unknown, args: Record<string, unknown>, ctx: AuthContext, info: GraphQLResolveInfo) => unknown;
type ResolverMap = Record<string, Record<string, Resolver>>;

const typeDefs = parse(`
  ${AUTH_DIRECTIVE_SDL}
  type Query {
    hello: String
    me: String @auth
    users: [String] @auth(requires: "admin")
  }
  extend type Query {
    audit: String @auth(requires: "admin")
  }
  type Wallet @auth {
    id: ID!
    balance: String
    ledgerDump: String @auth(requires: "admin")
  }
  type Report @auth(requires: "admin") {
    total: String
  }
  type Note {
    text: String
    secret: String @auth
  }
`);

const anonymous: AuthContext = { principal: null };
const asUser: AuthContext = { principal: { userId: 'u1', username: 'alice', roles: ['user'] } satisfies Principal };
const asAdmin: AuthContext = { principal: { userId: 'u2', username: 'root', roles: ['user', 'admin'] } satisfies Principal };
const adminOnly: AuthContext = { principal: { userId: 'u3', username: 'ops', roles: ['admin'] } satisfies Principal };

const info = (fieldName: string) => ({ fieldName }) as unknown as GraphQLResolveInfo;

function setUp() {
  const original = {
    Query: {
      hello: vi.fn(() => 'hi'),
      me: vi.fn((_source: unknown, _args: unknown, ctx: AuthContext) => ctx.principal?.username),
      users: vi.fn(() => ['alice', 'root']),
      audit: vi.fn(() => 'audit log'),
    },
    Wallet: {
      __resolveReference: vi.fn((ref: { id: string }) => ({ id: ref.id, balance: '12.50' })),
      balance: vi.fn((wallet: { balance: string }) => wallet.balance),
    },
    Report: {
      total: vi.fn(() => '100.00'),
    },
  };
  const wrapped = enforceAuthDirectives(typeDefs, original) as unknown as ResolverMap;
  return { original, wrapped };
}

function resolver(map: ResolverMap, typeName: string, fieldName: string): Resolver {
  const found = map[typeName]?.[fieldName];
  if (!found) throw new Error(`no resolver for ${typeName}.${fieldName}`);
  return found;
}

describe('enforceAuthDirectives on fields', () => {
  it('leaves fields without @auth untouched', () => {
    const { original, wrapped } = setUp();
    expect(wrapped.Query?.hello).toBe(original.Query.hello);
    expect(resolver(wrapped, 'Query', 'hello')(undefined, {}, anonymous, info('hello'))).toBe('hi');
  });

  it('refuses an anonymous caller of an @auth field as unauthenticated, without running the resolver', () => {
    const { original, wrapped } = setUp();
    expect(() => resolver(wrapped, 'Query', 'me')(undefined, {}, anonymous, info('me'))).toThrow(UnauthenticatedError);
    expect(original.Query.me).not.toHaveBeenCalled();
  });

  it('runs the original resolver with the same arguments for a signed-in caller', () => {
    const { original, wrapped } = setUp();
    const args = { first: 5 };
    const fieldInfo = info('me');
    expect(resolver(wrapped, 'Query', 'me')('root-value', args, asUser, fieldInfo)).toBe('alice');
    expect(original.Query.me).toHaveBeenCalledWith('root-value', args, asUser, fieldInfo);
  });

  it('refuses a user without the admin role on an @auth(requires: "admin") field as forbidden', () => {
    const { original, wrapped } = setUp();
    expect(() => resolver(wrapped, 'Query', 'users')(undefined, {}, asUser, info('users'))).toThrow(ForbiddenError);
    expect(() => resolver(wrapped, 'Query', 'users')(undefined, {}, anonymous, info('users'))).toThrow(UnauthenticatedError);
    expect(original.Query.users).not.toHaveBeenCalled();
  });

  it('runs an admin field for an admin', () => {
    const { wrapped } = setUp();
    expect(resolver(wrapped, 'Query', 'users')(undefined, {}, asAdmin, info('users'))).toEqual(['alice', 'root']);
  });

  it('enforces @auth on fields added by a type extension', () => {
    const { wrapped } = setUp();
    expect(() => resolver(wrapped, 'Query', 'audit')(undefined, {}, asUser, info('audit'))).toThrow(ForbiddenError);
    expect(resolver(wrapped, 'Query', 'audit')(undefined, {}, asAdmin, info('audit'))).toBe('audit log');
  });

  it('guards a field with no resolver of its own, reading the property from the source when allowed', () => {
    const { wrapped } = setUp();
    const note = { text: 'public', secret: 'hidden' };
    expect(wrapped.Note?.text).toBeUndefined();
    expect(() => resolver(wrapped, 'Note', 'secret')(note, {}, anonymous, info('secret'))).toThrow(UnauthenticatedError);
    expect(resolver(wrapped, 'Note', 'secret')(note, {}, asUser, info('secret'))).toBe('hidden');
  });

  it('does not treat admin as implying user: roles are checked as named', () => {
    const { wrapped } = setUp();
    expect(() => resolver(wrapped, 'Query', 'me')(undefined, {}, adminOnly, info('me'))).toThrow(ForbiddenError);
  });
});

describe('enforceAuthDirectives on object types', () => {
  it('guards every field of an @auth type, including fields without a resolver', () => {
    const { wrapped } = setUp();
    const wallet = { id: 'w1', balance: '12.50' };
    expect(() => resolver(wrapped, 'Wallet', 'id')(wallet, {}, anonymous, info('id'))).toThrow(UnauthenticatedError);
    expect(() => resolver(wrapped, 'Wallet', 'balance')(wallet, {}, anonymous, info('balance'))).toThrow(UnauthenticatedError);
    expect(resolver(wrapped, 'Wallet', 'id')(wallet, {}, asUser, info('id'))).toBe('w1');
    expect(resolver(wrapped, 'Wallet', 'balance')(wallet, {}, asUser, info('balance'))).toBe('12.50');
  });

  it('lets a field raise the role its type requires', () => {
    const { wrapped } = setUp();
    const wallet = { ledgerDump: 'rows' };
    expect(() => resolver(wrapped, 'Wallet', 'ledgerDump')(wallet, {}, asUser, info('ledgerDump'))).toThrow(ForbiddenError);
    expect(resolver(wrapped, 'Wallet', 'ledgerDump')(wallet, {}, asAdmin, info('ledgerDump'))).toBe('rows');
  });

  it('guards the __resolveReference of an @auth entity', () => {
    const { original, wrapped } = setUp();
    const resolveReference = resolver(wrapped, 'Wallet', '__resolveReference') as unknown as (ref: unknown, ctx: AuthContext, info: unknown) => unknown;
    expect(() => resolveReference({ id: 'w1' }, anonymous, {})).toThrow(UnauthenticatedError);
    expect(original.Wallet.__resolveReference).not.toHaveBeenCalled();
    expect(resolveReference({ id: 'w1' }, asUser, {})).toEqual({ id: 'w1', balance: '12.50' });
    expect(original.Wallet.__resolveReference).toHaveBeenCalledTimes(1);
  });

  it('applies an admin requirement on a type to all its fields', () => {
    const { wrapped } = setUp();
    expect(() => resolver(wrapped, 'Report', 'total')(undefined, {}, asUser, info('total'))).toThrow(ForbiddenError);
    expect(resolver(wrapped, 'Report', 'total')(undefined, {}, asAdmin, info('total'))).toBe('100.00');
  });
});

describe('enforceAuthDirectives as a whole', () => {
  it('returns a copy and leaves the resolvers it was given unchanged', () => {
    const { original, wrapped } = setUp();
    const me = original.Query.me;
    expect(wrapped).not.toBe(original);
    expect(wrapped.Query).not.toBe(original.Query);
    expect(original.Query.me).toBe(me);
    expect(wrapped.Query?.me).not.toBe(me);
  });

  it('refuses an @auth role other than user or admin when the schema is built', () => {
    const bad = parse(`${AUTH_DIRECTIVE_SDL}\ntype Query { x: String @auth(requires: "superuser") }`);
    expect(() => enforceAuthDirectives(bad, { Query: {} })).toThrow(/must be "user" or "admin"/);
  });
});

describe('checkRole', () => {
  it('tells a non-admin that only admins may do this and returns the principal when allowed', () => {
    expect(() => checkRole(asUser.principal, 'admin')).toThrow(/Only admins/);
    expect(checkRole(asAdmin.principal, 'admin')).toBe(asAdmin.principal);
  });
});
