// Issuing and managing cards (admins), and reading cards and redemptions.

import { BadUserInputError, CurrencyMismatchError, GiftCardNotFoundError, isUniqueViolation, type Money } from '@giftpay/common';
import { and, desc, eq, getTableColumns, gte, isNotNull, isNull, lt, type SQL, sql } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type * as schema from './db/schema.ts';
import { type CardEventRow, cardEvents, type GiftCardRow, giftCards, type RedemptionRow, redemptions } from './db/schema.ts';
import { checkIssueRequest, checkReason, type GiftCardStatus } from './domain/gift-card.ts';
import { checkChosenCode, generateCode, hashCode, lastFour, normalizeCode } from './domain/gift-card-code.ts';
import { type SlotShardsSetting, slotShardsFor } from './domain/slot-shards.ts';

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

/**
 * A card's redemption count as the API shows it: its own counter when its slots are on its
 * row (K = 1), plus what its shards have taken when they are split (K > 1; the card's row is
 * then not written per claim). The card's id is qualified by hand: drizzle leaves the columns
 * of a one-table select unqualified, and the subquery must not take another table's `id`.
 */
export const liveRedemptionCount: SQL<number> = sql<number>`(case when ${giftCards.slotShards} = 1 then ${giftCards.redemptionCount}
  else ${giftCards.redemptionCount} + coalesce((select sum(s.used) from gift_cards.card_slot_shards s where s.card_id = gift_cards.gift_cards.id), 0)::integer end)`.mapWith(
  Number,
);

/** Every column of a card, its redemption count live. */
const cardWithLiveCount = { ...getTableColumns(giftCards), redemptionCount: liveRedemptionCount };

/** What `giftCards` may be filtered by; every condition set must hold. */
export interface GiftCardFilter {
  readonly status?: GiftCardStatus | null;
  readonly last4?: string | null;
  readonly createdAfter?: Date | null;
  readonly createdBefore?: Date | null;
}

/**
 * The SQL of a filter. A status is computed as statusOf does (disabled wins over expired,
 * expired over used up), from the live redemption count.
 */
function cardFilter(filter: GiftCardFilter): SQL | undefined {
  const conditions: SQL[] = [];
  const notDisabled = isNull(giftCards.disabledAt);
  const expired = sql`(${giftCards.expiresAt} is not null and ${giftCards.expiresAt} <= now())`;
  const usedUp = sql`${liveRedemptionCount} >= ${giftCards.usageLimit}`;
  switch (filter.status ?? null) {
    case 'DISABLED':
      conditions.push(isNotNull(giftCards.disabledAt));
      break;
    case 'EXPIRED':
      conditions.push(notDisabled, expired);
      break;
    case 'USED_UP':
      conditions.push(notDisabled, sql`not ${expired}`, usedUp);
      break;
    case 'ACTIVE':
      conditions.push(notDisabled, sql`not ${expired}`, sql`not (${usedUp})`);
      break;
    default:
      break;
  }
  if (filter.last4 !== undefined && filter.last4 !== null) {
    if (!/^[0-9A-Za-z]{4}$/.test(filter.last4)) throw new BadUserInputError('filter.last4 must be the last four letters or digits of a code.');
    conditions.push(eq(giftCards.last4, filter.last4.toUpperCase()));
  }
  if (filter.createdAfter) conditions.push(gte(giftCards.createdAt, filter.createdAfter));
  if (filter.createdBefore) conditions.push(lt(giftCards.createdAt, filter.createdBefore));
  return conditions.length === 0 ? undefined : and(...conditions);
}

export function createGiftCardsService(deps: { db: Db; codeKey: string; defaultCurrency: string; slotShards?: SlotShardsSetting }) {
  const { db } = deps;

  /** Redemptions matching `where`, newest first by `seq`, with their cards; `first + 1` rows. */
  async function redemptionPage(where: SQL, first: number, beforeSeq: bigint | null): Promise<(RedemptionRow & { giftCard: GiftCardRow })[]> {
    const rows = await db
      .select({ redemption: redemptions, giftCard: cardWithLiveCount })
      .from(redemptions)
      .innerJoin(giftCards, eq(giftCards.id, redemptions.giftCardId))
      .where(beforeSeq === null ? where : and(where, lt(redemptions.seq, beforeSeq)))
      .orderBy(desc(redemptions.seq))
      .limit(first + 1);
    return rows.map((row) => ({ ...row.redemption, giftCard: row.giftCard }));
  }

  /** Sets or clears disabled_at when it changes, with the event that says who and why, in one transaction. */
  async function changeDisabled(id: string, action: 'DISABLED' | 'ENABLED', by: { actorId: string; reason?: string | null }): Promise<GiftCardRow> {
    const reason = checkReason(by.reason);
    if (!isUuid(id)) throw new GiftCardNotFoundError();
    return db.transaction(async (tx) => {
      const [changed] = await tx
        .update(giftCards)
        .set({ disabledAt: action === 'DISABLED' ? sql`now()` : null })
        .where(and(eq(giftCards.id, id), action === 'DISABLED' ? isNull(giftCards.disabledAt) : isNotNull(giftCards.disabledAt)))
        .returning({ id: giftCards.id });
      if (changed) await tx.insert(cardEvents).values({ giftCardId: id, action, actorId: by.actorId, reason });
      const [card] = await tx.select(cardWithLiveCount).from(giftCards).where(eq(giftCards.id, id));
      if (!card) throw new GiftCardNotFoundError();
      return card;
    });
  }

  return {
    /** Issues `count` cards in one transaction (a few multi-row inserts); each code is returned once. */
    async issue(request: IssueRequest): Promise<{ code: string; giftCard: GiftCardRow }[]> {
      checkIssueRequest(request, new Date());
      if (request.value.currencyCode !== deps.defaultCurrency) {
        throw new CurrencyMismatchError(deps.defaultCurrency, request.value.currencyCode);
      }
      const slotShards = slotShardsFor(request.usageLimit, deps.slotShards ?? 'auto');
      const codes = request.code != null ? [checkChosenCode(request.code)] : Array.from({ length: request.count }, generateCode);
      const rows = codes.map((code) => {
        const normalized = normalizeCode(code);
        return {
          codeHash: hashCode(normalized, deps.codeKey),
          last4: lastFour(normalized),
          valueAmount: request.value.minor,
          currencyCode: request.value.currencyCode,
          usageLimit: request.usageLimit,
          slotShards,
          expiresAt: request.expiresAt ?? null,
          createdBy: request.issuedBy,
        };
      });
      try {
        const inserted = await db.transaction(async (tx) => {
          const all: GiftCardRow[] = [];
          for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
            const chunk = await tx
              .insert(giftCards)
              .values(rows.slice(start, start + INSERT_CHUNK))
              .returning();
            // The shards commit with their cards (drizzle/0005_claim_slot_shards.sql).
            if (slotShards > 1) await tx.execute(sql`select gift_cards.split_card_slots(${`{${chunk.map((card) => card.id).join(',')}}`}::uuid[])`);
            // And so does the audit log's record of who issued them.
            await tx.insert(cardEvents).values(chunk.map((card) => ({ giftCardId: card.id, action: 'ISSUED' as const, actorId: request.issuedBy })));
            all.push(...chunk);
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

    /**
     * Disables a card, and records who and why in its history, in one transaction. Disabling a
     * disabled card changes nothing and records nothing.
     */
    disable(id: string, by: { actorId: string; reason?: string | null }): Promise<GiftCardRow> {
      return changeDisabled(id, 'DISABLED', by);
    },

    /** Undoes `disable`, recorded likewise; a card that is not disabled is returned unchanged, with nothing recorded. */
    enable(id: string, by: { actorId: string; reason?: string | null }): Promise<GiftCardRow> {
      return changeDisabled(id, 'ENABLED', by);
    },

    /** A card's history, oldest first: issued, disabled, enabled (all of it: a card has few). */
    eventsOfCard(cardId: string): Promise<CardEventRow[]> {
      return db.select().from(cardEvents).where(eq(cardEvents.giftCardId, cardId)).orderBy(cardEvents.seq);
    },

    /** The audit log of every card, newest first, `first + 1` rows, each with its card (one query); only `action` when given. */
    async listEvents(first: number, beforeSeq: bigint | null, action: CardEventRow['action'] | null): Promise<(CardEventRow & { giftCard: GiftCardRow })[]> {
      const conditions: SQL[] = [];
      if (beforeSeq !== null) conditions.push(lt(cardEvents.seq, beforeSeq));
      if (action !== null) conditions.push(eq(cardEvents.action, action));
      const rows = await db
        .select({ event: cardEvents, giftCard: cardWithLiveCount })
        .from(cardEvents)
        .innerJoin(giftCards, eq(giftCards.id, cardEvents.giftCardId))
        .where(and(...conditions))
        .orderBy(desc(cardEvents.seq))
        .limit(first + 1);
      return rows.map((row) => ({ ...row.event, giftCard: row.giftCard }));
    },

    async countEvents(action: CardEventRow['action'] | null): Promise<number> {
      const [row] = await db
        .select({ count: sql<number>`count(*)::int` })
        .from(cardEvents)
        .where(action === null ? undefined : eq(cardEvents.action, action));
      return row?.count ?? 0;
    },

    async findById(id: string): Promise<GiftCardRow | null> {
      if (!isUuid(id)) return null;
      const [card] = await db.select(cardWithLiveCount).from(giftCards).where(eq(giftCards.id, id));
      return card ?? null;
    },

    /** Newest first; `first + 1` rows. */
    list(first: number, beforeSeq: bigint | null, filter: GiftCardFilter = {}): Promise<GiftCardRow[]> {
      const where = cardFilter(filter);
      return db
        .select(cardWithLiveCount)
        .from(giftCards)
        .where(beforeSeq === null ? where : and(where, lt(giftCards.seq, beforeSeq)))
        .orderBy(desc(giftCards.seq))
        .limit(first + 1);
    },

    /** How many cards match `filter`. */
    async count(filter: GiftCardFilter = {}): Promise<number> {
      const [row] = await db.select({ n: sql<number>`count(*)::integer` }).from(giftCards).where(cardFilter(filter));
      return row?.n ?? 0;
    },

    /** How many redemptions a user (or a card) has. */
    async countRedemptions(by: { userId: string } | { giftCardId: string }): Promise<number> {
      const where = 'userId' in by ? eq(redemptions.userId, by.userId) : eq(redemptions.giftCardId, by.giftCardId);
      const [row] = await db.select({ n: sql<number>`count(*)::integer` }).from(redemptions).where(where);
      return row?.n ?? 0;
    },

    /** A user's redemptions, newest first, each with its card; `first + 1` rows. */
    /** A user's redemptions, newest first; `first + 1` rows. */
    redemptionsOf(userId: string, first: number, beforeSeq: bigint | null): Promise<(RedemptionRow & { giftCard: GiftCardRow })[]> {
      return redemptionPage(eq(redemptions.userId, userId), first, beforeSeq);
    },

    /**
     * A card's redemptions, newest first; `first + 1` rows. Found through the card's
     * one-per-user index and sorted: no index of its own, which every claim would have to
     * write (issue 8 asks that support views cost the burst nothing).
     */
    redemptionsOfCard(giftCardId: string, first: number, beforeSeq: bigint | null): Promise<(RedemptionRow & { giftCard: GiftCardRow })[]> {
      return redemptionPage(eq(redemptions.giftCardId, giftCardId), first, beforeSeq);
    },
  };
}

export type GiftCardsService = ReturnType<typeof createGiftCardsService>;

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
