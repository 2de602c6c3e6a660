// Thin resolvers: arguments in, service call, result out.

import {
  checkFirst,
  DateTimeScalar,
  DecimalScalar,
  decodeSeqCursor,
  encodeCursor,
  ForbiddenError,
  hasRole,
  parsePositiveMoney,
  ServiceUnavailableError,
  type SubgraphContext,
  toConnection,
  toMoneyObject,
} from '@giftpay/common';
import type { CardEventRow, GiftCardRow, RedemptionRow } from '../db/schema.ts';
import { statusOf } from '../domain/gift-card.ts';
import type { GiftCardFilter, GiftCardsService } from '../gift-cards.service.ts';
import type { RedemptionService } from '../redemption.service.ts';
import type { WalletBalance } from '../wallet-client.ts';

interface IssueInput {
  value: { amount: string; currencyCode: string };
  count: number;
  usageLimit: number;
  code?: string | null;
  expiresAt?: Date | null;
}

function signedIn(ctx: SubgraphContext) {
  if (!ctx.principal) throw new Error('@auth should have refused an anonymous caller');
  return ctx.principal;
}

export function createResolvers(cards: GiftCardsService, redemptionService: RedemptionService) {
  return {
    Decimal: DecimalScalar,
    DateTime: DateTimeScalar,
    Query: {
      giftCard: (_: unknown, { id }: { id: string }) => cards.findById(id),
      async giftCards(_: unknown, args: { first?: number | null; after?: string | null; filter?: GiftCardFilter | null }) {
        const first = checkFirst(args.first, 20);
        const filter = args.filter ?? {};
        const page = toConnection(await cards.list(first, decodeSeqCursor(args.after), filter), first, (card) => encodeCursor([card.seq]));
        // A function is called by GraphQL's default resolver: the count runs only when asked for.
        return { ...page, totalCount: () => cards.count(filter) };
      },
      async giftCardEvents(_: unknown, args: { first?: number | null; after?: string | null; action?: CardEventRow['action'] | null }) {
        const first = checkFirst(args.first, 20);
        const action = args.action ?? null;
        const page = toConnection(await cards.listEvents(first, decodeSeqCursor(args.after), action), first, (event) => encodeCursor([event.seq]));
        return { ...page, totalCount: () => cards.countEvents(action) };
      },
    },
    Mutation: {
      async activateGiftCard(_: unknown, { input }: { input: { code: string } }, ctx: SubgraphContext) {
        const principal = signedIn(ctx);
        const { giftCard, redemption, walletBalance } = await redemptionService.activate(principal.userId, input.code, {
          requestId: ctx.requestId,
          clientAddress: ctx.clientAddress,
        });
        return { giftCard, redemption: { ...redemption, giftCard }, walletBalance: walletBalance ?? null };
      },
      async issueGiftCards(_: unknown, { input }: { input: IssueInput }, ctx: SubgraphContext) {
        const issued = await cards.issue({
          value: parsePositiveMoney(input.value),
          count: input.count,
          usageLimit: input.usageLimit,
          code: input.code ?? null,
          expiresAt: input.expiresAt ?? null,
          issuedBy: signedIn(ctx).userId,
        });
        return { giftCards: issued };
      },
      disableGiftCard: (_: unknown, { id, reason }: { id: string; reason?: string | null }, ctx: SubgraphContext) =>
        cards.disable(id, { actorId: signedIn(ctx).userId, reason }),
      enableGiftCard: (_: unknown, { id, reason }: { id: string; reason?: string | null }, ctx: SubgraphContext) =>
        cards.enable(id, { actorId: signedIn(ctx).userId, reason }),
    },
    User: {
      async giftCardRedemptions(user: { id: string }, args: { first?: number | null; after?: string | null }, ctx: SubgraphContext) {
        if (ctx.principal?.userId !== user.id && !hasRole(ctx.principal, 'admin')) throw new ForbiddenError('You may only see your own redemptions.');
        const first = checkFirst(args.first, 10);
        const page = toConnection(await cards.redemptionsOf(user.id, first, decodeSeqCursor(args.after)), first, (row) => encodeCursor([row.seq]));
        return { ...page, totalCount: () => cards.countRedemptions({ userId: user.id }) };
      },
    },
    ActivateGiftCardPayload: {
      /**
       * The caller's wallet with its balance, which this subgraph provides (`@provides` in
       * schema.graphql) so that the gateway need not ask the wallet subgraph again: the balance the
       * wallet answered the credit with, or, when the credit is still PENDING (or was delivered by
       * another process), the wallet's balance read now. Any other wallet field comes from the
       * wallet subgraph by `ownerId`. Null, with SERVICE_UNAVAILABLE naming the wallet, when the
       * wallet cannot be read: the redemption beside it still says what happened.
       */
      async wallet(payload: { walletBalance: WalletBalance | null }, _: unknown, ctx: SubgraphContext) {
        const ownerId = signedIn(ctx).userId;
        let balance = payload.walletBalance;
        if (!balance) {
          try {
            balance = await redemptionService.walletBalance(ownerId, ctx.requestId);
          } catch {
            throw new ServiceUnavailableError('The wallet could not be read just now; the redemption says what happened. Try again shortly.', 1, 'wallet');
          }
        }
        return { ownerId, balance: toMoneyObject(balance.balanceMinor, balance.currencyCode) };
      },
    },
    GiftCard: {
      value: (card: GiftCardRow) => toMoneyObject(card.valueAmount, card.currencyCode),
      status: (card: GiftCardRow) => statusOf(card, new Date()),
      // Admins only (@auth in schema.graphql).
      async redemptions(card: GiftCardRow, args: { first?: number | null; after?: string | null }) {
        const first = checkFirst(args.first, 10);
        const page = toConnection(await cards.redemptionsOfCard(card.id, first, decodeSeqCursor(args.after)), first, (row) => encodeCursor([row.seq]));
        return { ...page, totalCount: () => cards.countRedemptions({ giftCardId: card.id }) };
      },
      // Admins only (@auth in schema.graphql).
      events: async (card: GiftCardRow) => (await cards.eventsOfCard(card.id)).map((event) => ({ ...event, giftCard: card })),
    },
    GiftCardEvent: {
      at: (event: CardEventRow) => event.createdAt,
      /** A reference the accounts subgraph resolves (the caller is an admin: @auth on every field that leads here). */
      by: (event: CardEventRow) => (event.actorId === null ? null : { __typename: 'User', id: event.actorId }),
      /** Read with the event: by giftCardEvents' join, or the card whose events these are. */
      giftCard: (event: CardEventRow & { giftCard: GiftCardRow }) => event.giftCard,
    },
    Redemption: {
      amount: (redemption: RedemptionRow) => toMoneyObject(redemption.amount, redemption.currencyCode),
      /** A reference the accounts subgraph resolves; checked here too, as the id alone needs no call there. */
      user(redemption: RedemptionRow, _: unknown, ctx: SubgraphContext) {
        if (ctx.principal?.userId !== redemption.userId && !hasRole(ctx.principal, 'admin')) {
          throw new ForbiddenError('Only the user who redeemed, or an admin, may see who redeemed.');
        }
        return { __typename: 'User', id: redemption.userId };
      },
    },
  };
}
