// Authorization declared next to the fields, enforced here and only here. Each subgraph's
// SDL declares `directive @auth(requires: String = "user") on FIELD_DEFINITION | OBJECT`
// and marks fields (or whole entity types) with it; `enforceAuthDirectives` wraps the
// matching resolvers, including an entity's `__resolveReference`, before the schema is
// built. The directive is not composed into the supergraph: the JS gateway cannot enforce
// Router-only directives, so every subgraph enforces its own.

import { type ConstDirectiveNode, type DocumentNode, defaultFieldResolver, type GraphQLFieldResolver, Kind } from 'graphql';
import type { Principal, Role } from './auth.ts';
import { ForbiddenError, UnauthenticatedError } from './errors.ts';

export const AUTH_DIRECTIVE_SDL = 'directive @auth(requires: String = "user") on FIELD_DEFINITION | OBJECT';

export interface AuthContext {
  readonly principal: Principal | null;
}

type ResolverMap = Record<string, Record<string, unknown>>;

function requiredRole(directives: readonly ConstDirectiveNode[] | undefined): Role | null {
  const directive = directives?.find((candidate) => candidate.name.value === 'auth');
  if (!directive) return null;
  const argument = directive.arguments?.find((arg) => arg.name.value === 'requires');
  if (!argument) return 'user';
  if (argument.value.kind !== Kind.STRING || (argument.value.value !== 'user' && argument.value.value !== 'admin')) {
    throw new Error('@auth(requires:) must be "user" or "admin"');
  }
  return argument.value.value;
}

export function checkRole(principal: Principal | null, role: Role): Principal {
  if (!principal) throw new UnauthenticatedError();
  if (!principal.roles.includes(role)) {
    throw new ForbiddenError(role === 'admin' ? 'Only admins may do this.' : 'Your account may not do this.');
  }
  return principal;
}

/** Returns a copy of `resolvers` in which every field and entity marked @auth checks the caller first. */
export function enforceAuthDirectives<T extends object>(typeDefs: DocumentNode, resolvers: T): T {
  const wrapped: ResolverMap = {};
  for (const [typeName, fields] of Object.entries(resolvers as ResolverMap)) wrapped[typeName] = { ...fields };

  for (const definition of typeDefs.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const typeName = definition.name.value;
    const typeRole = requiredRole(definition.directives);
    const typeResolvers = wrapped[typeName] ?? {};
    wrapped[typeName] = typeResolvers;
    if (typeRole && typeof typeResolvers.__resolveReference === 'function') {
      const original = typeResolvers.__resolveReference as (ref: unknown, ctx: AuthContext, info: unknown) => unknown;
      typeResolvers.__resolveReference = (ref: unknown, ctx: AuthContext, info: unknown) => {
        checkRole(ctx.principal, typeRole);
        return original(ref, ctx, info);
      };
    }
    for (const field of definition.fields ?? []) {
      const role = requiredRole(field.directives) ?? typeRole;
      if (!role) continue;
      const original = (typeResolvers[field.name.value] as GraphQLFieldResolver<unknown, AuthContext> | undefined) ?? defaultFieldResolver;
      typeResolvers[field.name.value] = (
        source: unknown,
        args: Record<string, unknown>,
        ctx: AuthContext,
        info: Parameters<GraphQLFieldResolver<unknown, AuthContext>>[3],
      ) => {
        checkRole(ctx.principal, role);
        return original(source, args, ctx, info);
      };
    }
  }
  return wrapped as T;
}
