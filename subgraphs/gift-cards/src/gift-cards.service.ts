// Issuing and managing cards (admins), and reading cards and redemptions.

import { BadUserInputError, CurrencyMismatchError, GiftCardNotFoundError, isUniqueViolation, type Money } from '@giftpay/common';
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type * as schema from './db/schema.ts';
import { type GiftCardRow, giftCards, type RedemptionRow, redemptions } from './db/schema.ts';
import { checkIssueRequest } from './domain/gift-card.ts';
import { checkChosenCode, generateCode, hashCode, lastFour, normalizeCode } from './domain/gift-card-code.ts';

type Db = PostgresJsDatabase<typeof schema>;

export interface IssueRequest {
  readonly value: Money;
  readonly count: number;
  readonly usageLimit: number;
  readonly code?: string | null;
  readonly expiresAt?: Date | null;
  readonly issuedBy: string;
}

/** PostgreSQL takes at most 65,535 parameters a statement; 12 columns × 2,000 rows stays well below. */
const INSERT_CHUNK = 2000;

export function createGiftCardsService(deps: { db: Db; codeKey: string; defaultCurrency: string }) {
  const { db } = deps;

  return {
    /** Issues `count` cards in one transaction (a few multi-row inserts); each code is returned once. */
    async issue(request: IssueRequest): Promise<{ code: string; giftCard: GiftCardRow }[]> {
      checkIssueRequest(request, new Date());
      if (request.value.currencyCode !== deps.defaultCurrency) {
        throw new CurrencyMismatchError(deps.defaultCurrency, request.value.currencyCode);
      }
      const codes = request.code != null ? [checkChosenCode(request.code)] : Array.from({ length: request.count }, generateCode);
      const rows = codes.map((code) => {
        const normalized = normalizeCode(code);
        return {
          codeHash: hashCode(normalized, deps.codeKey),
          last4: lastFour(normalized),
          valueAmount: request.value.minor,
          currencyCode: request.value.currencyCode,
          usageLimit: request.usageLimit,
          expiresAt: request.expiresAt ?? null,
          createdBy: request.issuedBy,
        };
      });
      try {
        const inserted = await db.transaction(async (tx) => {
          const all: GiftCardRow[] = [];
          for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
            all.push(
              ...(await tx
                .insert(giftCards)
                .values(rows.slice(start, start + INSERT_CHUNK))
                .returning()),
            );
          }
          return all;
        });
        const byHash = new Map(inserted.map((card) => [card.codeHash, card]));
        return codes.map((code, index) => {
          const card = byHash.get(rows[index]?.codeHash ?? '');
          if (!card) throw new Error('issued card missing from insert result');
          return { code, giftCard: card };
        });
      } catch (error) {
        if (isUniqueViolation(error, 'gift_cards_code_hash_unique')) {
          throw new BadUserInputError('A gift card with this code already exists; choose another code.');
        }
        throw error;
      }
    },

    async disable(id: string): Promise<GiftCardRow> {
      if (!isUuid(id)) throw new GiftCardNotFoundError();
      const [card] = await db
        .update(giftCards)
        .set({ disabledAt: sql`coalesce(${giftCards.disabledAt}, now())` })
        .where(eq(giftCards.id, id))
        .returning();
      if (!card) throw new GiftCardNotFoundError();
      return card;
    },

    async findById(id: string): Promise<GiftCardRow | null> {
      if (!isUuid(id)) return null;
      return (await db.query.giftCards.findFirst({ where: eq(giftCards.id, id) })) ?? null;
    },

    /** Newest first; `first + 1` rows. */
    list(first: number, beforeSeq: bigint | null): Promise<GiftCardRow[]> {
      return db
        .select()
        .from(giftCards)
        .where(beforeSeq === null ? undefined : lt(giftCards.seq, beforeSeq))
        .orderBy(desc(giftCards.seq))
        .limit(first + 1);
    },

    /** A user's redemptions, newest first, each with its card; `first + 1` rows. */
    async redemptionsOf(userId: string, first: number, beforeSeq: bigint | null): Promise<(RedemptionRow & { giftCard: GiftCardRow })[]> {
      const rows = await db
        .select({ redemption: redemptions, giftCard: giftCards })
        .from(redemptions)
        .innerJoin(giftCards, eq(giftCards.id, redemptions.giftCardId))
        .where(beforeSeq === null ? eq(redemptions.userId, userId) : and(eq(redemptions.userId, userId), lt(redemptions.seq, beforeSeq)))
        .orderBy(desc(redemptions.seq))
        .limit(first + 1);
      return rows.map((row) => ({ ...row.redemption, giftCard: row.giftCard }));
    },
  };
}

export type GiftCardsService = ReturnType<typeof createGiftCardsService>;

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
