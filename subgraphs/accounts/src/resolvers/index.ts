// Thin resolvers: arguments in, service call, result out.

import { ForbiddenError, hasRole, requireUser, type SubgraphContext } from '@giftpay/common';
import type { AccountsService } from '../accounts.service.ts';
import type { UserRow } from '../db/schema.ts';

export function createResolvers(accounts: AccountsService) {
  return {
    Query: {
      me: (_: unknown, __: unknown, ctx: SubgraphContext) => (ctx.principal ? accounts.findById(ctx.principal.userId).then((user) => user ?? null) : null),
      // Admins only (@auth in schema.graphql).
      user: async (_: unknown, { username }: { username: string }) => (await accounts.findByUsername(username)) ?? null,
    },
    Mutation: {
      signUp: (_: unknown, args: { input: { username: string; password: string } }) => accounts.signUp(args.input),
      logIn: (_: unknown, args: { input: { username: string; password: string } }, ctx: SubgraphContext) => accounts.logIn(args.input, ctx.clientAddress),
    },
    User: {
      // Another subgraph may ask for a user's name and roles only on that user's (or an admin's) behalf.
      async __resolveReference(ref: { id: string }, ctx: SubgraphContext): Promise<UserRow | null> {
        const principal = requireUser(ctx.principal);
        if (principal.userId !== ref.id && !hasRole(principal, 'admin')) throw new ForbiddenError('You may only see your own account.');
        return (await accounts.findById(ref.id)) ?? null;
      },
    },
  };
}
