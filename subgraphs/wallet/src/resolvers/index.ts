// Thin resolvers: arguments in, ledger call, result out. Wallets are private: only their
// owner (or an admin) can resolve one, whichever way the gateway asks for it.

import {
  BadUserInputError,
  checkFirst,
  DateTimeScalar,
  DecimalScalar,
  decodeSeqCursor,
  encodeCursor,
  ForbiddenError,
  hasRole,
  parsePositiveMoney,
  type SubgraphContext,
  toConnection,
  toMoneyObject,
} from '@giftpay/common';
import type { AdjustmentRow, LedgerEntryRow, WalletRow } from '../db/schema.ts';
import type { Ledger } from '../ledger.service.ts';
import type { CurrencyBooks } from '../ledger-report.ts';

interface MoneyInput {
  amount: string;
  currencyCode: string;
}

function assertMayAccess(ctx: SubgraphContext, ownerId: string): void {
  if (ctx.principal?.userId !== ownerId && !hasRole(ctx.principal, 'admin')) throw new ForbiddenError('You may only see your own wallet.');
}

function requireSelf(ctx: SubgraphContext) {
  if (!ctx.principal) throw new Error('@auth should have refused an anonymous caller');
  return ctx.principal;
}

export function createResolvers(ledger: Ledger) {
  return {
    Decimal: DecimalScalar,
    DateTime: DateTimeScalar,
    Query: {
      /**
       * The token's user, by id (`@shareable` with accounts, which owns users): the gateway
       * answers `me { wallet { … } }` from this subgraph alone. Users are never deleted, so the
       * subject of a valid token is a user accounts knows.
       */
      me: (_: unknown, __: unknown, ctx: SubgraphContext) => (ctx.principal ? { id: ctx.principal.userId } : null),
      /** Admins only (@auth): the books, read by wallet.ledger_report(). */
      ledgerReport: () => ledger.report(),
      /** Admins only (@auth). */
      async walletAdjustments(_: unknown, args: { first?: number | null; after?: string | null }) {
        const first = checkFirst(args.first, 20);
        const page = toConnection(await ledger.listAdjustments(first, decodeSeqCursor(args.after)), first, (row) => encodeCursor([row.adjustment.seq]));
        return { ...page, totalCount: () => ledger.countAdjustments() };
      },
    },
    WalletAdjustment: {
      user: (row: { ownerId: string }) => ({ __typename: 'User', id: row.ownerId }),
      by: (row: { adjustment: AdjustmentRow }) => (row.adjustment.actorId === null ? null : { __typename: 'User', id: row.adjustment.actorId }),
      transaction: (row: { entry: LedgerEntryRow }) => row.entry,
      reason: (row: { entry: LedgerEntryRow }) => row.entry.description,
      at: (row: { entry: LedgerEntryRow }) => row.entry.createdAt,
    },
    CurrencyLedger: {
      walletsTotal: (books: CurrencyBooks) => toMoneyObject(books.walletsTotal, books.currencyCode),
      giftCardsRedeemed: (books: CurrencyBooks) => toMoneyObject(books.giftCardsRedeemed, books.currencyCode),
      spent: (books: CurrencyBooks) => toMoneyObject(books.spent, books.currencyCode),
      adjustments: (books: CurrencyBooks) => toMoneyObject(books.adjustments, books.currencyCode),
      imbalance: (books: CurrencyBooks) => toMoneyObject(books.imbalance, books.currencyCode),
    },
    User: {
      wallet(user: { id: string }, _: unknown, ctx: SubgraphContext) {
        assertMayAccess(ctx, user.id);
        return ledger.ensureWallet(user.id);
      },
    },
    Wallet: {
      async __resolveReference(ref: { id?: string; ownerId?: string }, ctx: SubgraphContext): Promise<WalletRow | null> {
        if (ref.ownerId !== undefined) {
          assertMayAccess(ctx, ref.ownerId);
          return ledger.ensureWallet(ref.ownerId);
        }
        const wallet = ref.id === undefined ? undefined : await ledger.findWalletById(ref.id);
        if (!wallet) return null;
        assertMayAccess(ctx, wallet.ownerId);
        return wallet;
      },
      balance: (wallet: WalletRow) => toMoneyObject(wallet.balance, wallet.currencyCode),
      async transactions(wallet: WalletRow, args: { first?: number | null; after?: string | null }) {
        const first = checkFirst(args.first, 10);
        const rows = await ledger.listEntries(wallet.id, first, decodeSeqCursor(args.after));
        return toConnection(rows, first, (row) => encodeCursor([row.seq]));
      },
    },
    WalletTransaction: {
      amount: (entry: LedgerEntryRow) => toMoneyObject(entry.amount, entry.currencyCode),
      balanceAfter: (entry: LedgerEntryRow) => toMoneyObject(entry.balanceAfter, entry.currencyCode),
      /** Admins only (@auth); read only for an adjustment's entry. */
      async adjustedBy(entry: LedgerEntryRow) {
        if (entry.operation !== 'adjustment') return null;
        const actorId = await ledger.adjustedBy(entry.id);
        return actorId === null ? null : { __typename: 'User', id: actorId };
      },
    },
    Mutation: {
      async spend(_: unknown, { input }: { input: { amount: MoneyInput; description: string; idempotencyKey: string } }, ctx: SubgraphContext) {
        const principal = requireSelf(ctx);
        const posted = await ledger.spend({
          ownerId: principal.userId,
          amount: parsePositiveMoney(input.amount),
          description: input.description,
          idempotencyKey: input.idempotencyKey,
        });
        return { transaction: posted.entry, wallet: posted.wallet };
      },
      async transfer(_: unknown, { input }: { input: { toUsername: string; amount: MoneyInput; idempotencyKey: string } }, ctx: SubgraphContext) {
        const principal = requireSelf(ctx);
        const posted = await ledger.transfer({
          ownerId: principal.userId,
          senderUsername: principal.username,
          toUsername: input.toUsername,
          amount: parsePositiveMoney(input.amount),
          idempotencyKey: input.idempotencyKey,
        });
        return { transaction: posted.entry, wallet: posted.wallet };
      },
      /** Admins only (@auth): the username through accounts, then one statement like spend's. */
      async adjustWallet(
        _: unknown,
        { input }: { input: { username: string; amount: MoneyInput; kind: 'CREDIT' | 'DEBIT'; reason: string; idempotencyKey: string } },
        ctx: SubgraphContext,
      ) {
        const amount = parsePositiveMoney(input.amount);
        const username = input.username.trim();
        const ownerId = username === '' ? null : await ledger.findUserIdByUsername(username);
        if (!ownerId) throw new BadUserInputError(`No user is named "${username}".`);
        const posted = await ledger.adjust({
          ownerId,
          kind: input.kind,
          amount,
          reason: input.reason,
          idempotencyKey: input.idempotencyKey,
          adjustedBy: requireSelf(ctx).userId,
        });
        return { transaction: posted.entry, wallet: posted.wallet };
      },
    },
  };
}
