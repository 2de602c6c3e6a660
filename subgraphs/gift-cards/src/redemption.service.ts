// Redeeming a card: the claim (one transaction: a redemption row that also records the
// credit owed, and one conditional increment of the card's counter), then the credit sent
// to the wallet under a key derived from the redemption, and a relay that retries owed
// credits until the wallet confirms them. See docs/architecture.md.

import {
  type Counter,
  DomainError,
  GiftCardAlreadyRedeemedError,
  GiftCardDisabledError,
  GiftCardExpiredError,
  GiftCardNotFoundError,
  GiftCardUsedUpError,
  type Histogram,
  isRetryableTransactionError,
  type Logger,
  RateLimitedError,
} from '@giftpay/common';
import { type AttemptLimit, type AttemptSubject, type AttemptSubjectTemplate, createAttemptLimiter } from '@giftpay/common/attempt-limiter';
import { type Batcher, createBatcher } from '@giftpay/common/batching';
import { and, eq, getTableColumns, inArray, isNotNull, isNull, type SQL, sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type * as schema from './db/schema.ts';
import { type GiftCardRow, giftCards, type RedemptionRow, redemptions } from './db/schema.ts';
import { refusalFor, retryDelayMs, statusOf } from './domain/gift-card.ts';
import { checkSubmittedCode, hashCode } from './domain/gift-card-code.ts';
import { liveRedemptionCount } from './gift-cards.service.ts';
import { CreditRefusedError, type WalletBalance, type WalletClient } from './wallet-client.ts';

type Db = PostgresJsDatabase<typeof schema>;

export interface Activation {
  readonly giftCard: GiftCardRow;
  readonly redemption: RedemptionRow;
  /**
   * The caller's wallet balance as the wallet answered the credit (so it includes it), when
   * this request delivered it; null when the credit is PENDING or another process delivered it.
   */
  readonly walletBalance?: WalletBalance | null;
}

/** How many used-up cards a replica remembers, and how many of their redeemers in all, unless told (USED_UP_MEMORY_*). */
const USED_UP_MEMORY = { cards: 1_000, redeemers: 1_000_000 };
/**
 * The largest card remembered: one near the whole allowance would push every other card out,
 * and the next one seen used up push it out in turn, each read again from its redemptions.
 */
const USED_UP_REDEEMERS_PER_CARD = 100_000;

/** The most claims one batch carries, and the batches of a card's claims on their way at once (see `claimSlot`). */
const CLAIMS_PER_BATCH = 50;
const CLAIM_BATCHES_IN_FLIGHT = 2;

/** One claim's answer: claim_slot's outcome; the redemption and the count it committed when CLAIMED. */
interface ClaimResult {
  readonly outcome: string;
  readonly redemptionId: string | null;
  readonly redemptionCount: number | null;
}

/** A row of claim_slot or claim_slots as a ClaimResult. */
function claimResultOf(row: Record<string, unknown> | undefined): ClaimResult {
  return {
    outcome: String(row?.outcome),
    redemptionId: (row?.redemption_id as string | null) ?? null,
    redemptionCount: (row?.redemption_count as number | null) ?? null,
  };
}

/** A card seen used up: final, so its redeemers are too (no claim can join them, none leaves). */
interface UsedUpCard {
  readonly redeemers: ReadonlySet<string>;
}

export interface RedemptionDeps {
  readonly db: Db;
  readonly limits: { readonly perUser: AttemptLimit; readonly perAddress: AttemptLimit };
  readonly wallet: WalletClient;
  readonly codeKey: string;
  readonly logger: Logger;
  /** How long the request that made a claim owns its delivery before the relay may take over. */
  readonly leaseMs: number;
  readonly batchSize: number;
  /**
   * After a failed first delivery, the process that made the claim tries again after each of
   * these delays (CREDIT_RETRY_DELAYS_MS), so a winner's credit lands within seconds instead of
   * after the lease; the relay still covers a claim whose process died.
   */
  readonly quickRetryDelaysMs?: readonly number[];
  /**
   * The most used-up cards remembered, and their redeemers in all: a used-up card's
   * redeemers are its usage limit, each kept as a user id, so the sum bounds the memory.
   */
  readonly usedUpMemory?: { readonly cards: number; readonly redeemers: number };
  readonly metrics?: {
    readonly claims: Counter<'outcome'>;
    readonly deliveries: Counter<'result'>;
    readonly claimBatchSize?: Histogram;
    readonly claimsAlone?: Counter<'reason'>;
  };
}

/**
 * The wallet's own word that this credit can never be applied as it is: 422 (a domain rule:
 * CURRENCY_MISMATCH, a balance past its maximum) or 400 (an amount it does not accept), given
 * for this credit in the batch's answer. Anything else (no answer, 5xx, 401 for a wrong
 * INTERNAL_API_TOKEN, a 400 for the whole call from something in between) may pass later.
 */
function permanentRefusalOf(error: unknown): string | null {
  if (!(error instanceof CreditRefusedError) || (error.status !== 422 && error.status !== 400)) return null;
  const body = error.body as { code?: unknown; message?: unknown } | null;
  return `the wallet refused the credit (${error.status}${typeof body?.code === 'string' ? ` ${body.code}` : ''}): ${typeof body?.message === 'string' ? body.message : 'no reason given'}`;
}

export function creditKeyOf(redemptionId: string): string {
  return `gift-card-redemption:${redemptionId}`;
}

/** A code waiting for a place to be looked up (`takeLookupPlace`). */
interface WaitingCode {
  readonly codeHash: string;
  readonly admit: (givePlaceBack: () => void) => void;
}

/** One user's codes being looked up in a process, and those waiting for a place. */
interface LookupPlaces {
  readonly codes: Map<string, number>;
  readonly waiting: WaitingCode[];
}

/** How many of one user's codes may wait for each lookup place before more are refused. */
const WAITING_CODES_PER_PLACE = 4;

export function createRedemptionService(deps: RedemptionDeps) {
  const { db, logger } = deps;
  const limiter = createAttemptLimiter(['gift_cards', 'attempt_counters']);

  const execute = (query: SQL) => db.execute(query);

  /** Counts a wrong code; past the limit the answer is RATE_LIMITED instead. The upsert's own count decides, so concurrent guesses are counted exactly. */
  async function wrongCode(subjects: readonly AttemptSubject[], error: DomainError): Promise<never> {
    throw (await limiter.recordFailure(execute, subjects)) ?? error;
  }

  /**
   * The first statement of every activation, prepared once: the card of the code (its count
   * live, shards included), whether this caller already redeemed it, and how long the caller
   * must wait when it has used up its failed attempts. One round trip where there were four.
   */
  const lookup = (withAddress: boolean) => {
    const subjects: AttemptSubjectTemplate[] = [{ key: sql.placeholder('userKey'), limit: deps.limits.perUser }];
    if (withAddress) subjects.push({ key: sql.placeholder('addressKey'), limit: deps.limits.perAddress });
    return db
      .select({
        ...getTableColumns(giftCards),
        redemptionCount: liveRedemptionCount,
        retryAfter: sql<number>`${limiter.waitSeconds(subjects)}`.mapWith(Number),
        // Qualified by hand: drizzle leaves the columns of a one-table select unqualified, and
        // a bare "id" inside the subquery would be the redemption's own.
        mine: sql<boolean>`exists (select 1 from gift_cards.redemptions r where r.gift_card_id = gift_cards.gift_cards.id and r.user_id = ${sql.placeholder('userId')})`,
      })
      .from(giftCards)
      .where(eq(giftCards.codeHash, sql.placeholder('codeHash')))
      .prepare(withAddress ? 'activation_lookup_with_address' : 'activation_lookup');
  };
  const lookupByUser = lookup(false);
  const lookupByUserAndAddress = lookup(true);
  /** Each user's codes being looked up in this process (`claim`), by code hash with how many requests each, and the codes waiting for a place, oldest first. */
  const lookupsUnderway = new Map<string, LookupPlaces>();

  /**
   * A place for one of a user's codes to be looked up: no more than FAILED_ACTIVATIONS_PER_USER
   * different codes of one user at a time in this process, each holding its place until a
   * wrong one is counted. A burst of guesses sent together would otherwise all be looked up
   * before the first failure was counted, and a right code among them redeemed however far
   * past the limit. The same code sent again (a double tap, a client's retries) shares its
   * place. A code past them waits its turn, first come first served, and is then looked up
   * against the failures counted meanwhile; past WAITING_CODES_PER_PLACE waiting for each
   * place, a code is refused RATE_LIMITED (a burst of that many different codes at once is
   * guessing). Returns what gives the place back, or a promise of it when the code waits
   * (the usual case answers at once).
   */
  function takeLookupPlace(userId: string, codeHash: string): (() => void) | Promise<() => void> {
    let user = lookupsUnderway.get(userId);
    if (user === undefined) {
      user = { codes: new Map(), waiting: [] };
      lookupsUnderway.set(userId, user);
    }
    const same = user.codes.get(codeHash) ?? 0;
    if (same > 0 || (user.waiting.length === 0 && user.codes.size < deps.limits.perUser.max)) {
      user.codes.set(codeHash, same + 1);
      return placeGiver(userId, user, codeHash);
    }
    if (user.waiting.length >= WAITING_CODES_PER_PLACE * deps.limits.perUser.max) throw new RateLimitedError(1);
    const queue = user.waiting;
    return new Promise((admit) => queue.push({ codeHash, admit }));
  }

  /** What gives one request's place back: the code's last request frees the place, which goes to the oldest waiting codes. */
  function placeGiver(userId: string, user: LookupPlaces, codeHash: string): () => void {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (user.codes.get(codeHash) ?? 1) - 1;
      if (left > 0) {
        user.codes.set(codeHash, left);
        return;
      }
      user.codes.delete(codeHash);
      // Handed over here, oldest first, each with every request waiting on the same code:
      // no place stays free while a code waits, and none is taken by a newer arrival.
      while (user.waiting.length > 0 && user.codes.size < deps.limits.perUser.max) {
        const next = (user.waiting[0] as WaitingCode).codeHash;
        const admitted = user.waiting.filter((waiting) => waiting.codeHash === next);
        user.waiting.splice(0, user.waiting.length, ...user.waiting.filter((waiting) => waiting.codeHash !== next));
        user.codes.set(next, admitted.length);
        for (const waiting of admitted) waiting.admit(placeGiver(userId, user, next));
      }
      if (user.codes.size === 0 && user.waiting.length === 0 && lookupsUnderway.get(userId) === user) lookupsUnderway.delete(userId);
    };
  }

  /**
   * Cards seen used up, by code hash, each with the users who redeemed it, read once when the
   * card was seen used up in a committed state (so every redemption is committed by then).
   * The rest of a promotion's burst is answered from here with no statement at all: the
   * caller's own redemption still answers ALREADY_REDEEMED, anyone else USED_UP. Expired and
   * disabled cards are not kept (a claim may still be committing at the moment of expiry; an
   * admin may enable a card again). Bounded in cards and in redeemers in all (a used-up card
   * has its usage limit of them): the oldest card goes first.
   */
  const memory = deps.usedUpMemory ?? USED_UP_MEMORY;
  const usedUp = new Map<string, { readonly card: Promise<UsedUpCard>; readonly redeemers: number }>();
  let redeemersRemembered = 0;
  function forgetUsedUp(codeHash: string): void {
    const remembered = usedUp.get(codeHash);
    if (!remembered) return;
    usedUp.delete(codeHash);
    redeemersRemembered -= remembered.redeemers;
  }
  function rememberUsedUp(codeHash: string, card: Pick<GiftCardRow, 'id' | 'usageLimit'>): void {
    if (usedUp.has(codeHash) || card.usageLimit > Math.min(memory.redeemers, USED_UP_REDEEMERS_PER_CARD) || memory.cards === 0) return;
    while (usedUp.size >= memory.cards || redeemersRemembered + card.usageLimit > memory.redeemers) {
      forgetUsedUp(usedUp.keys().next().value as string);
    }
    const loading = db
      .select({ userId: redemptions.userId })
      .from(redemptions)
      .where(eq(redemptions.giftCardId, card.id))
      .then((rows) => ({ redeemers: new Set(rows.map((row) => row.userId)) }));
    const entry = { card: loading, redeemers: card.usageLimit };
    // A failed read is forgotten: the next claim reads the card again.
    loading.catch(() => {
      if (usedUp.get(codeHash) === entry) forgetUsedUp(codeHash);
    });
    usedUp.set(codeHash, entry);
    redeemersRemembered += card.usageLimit;
  }

  /** The answer for a remembered used-up card, or null when the card is not remembered (or its read failed). */
  async function usedUpRefusal(codeHash: string, userId: string): Promise<DomainError | null> {
    const remembered = usedUp.get(codeHash);
    if (!remembered) return null;
    const card = await remembered.card.catch(() => null);
    if (!card) return null;
    return card.redeemers.has(userId) ? new GiftCardAlreadyRedeemedError() : new GiftCardUsedUpError();
  }

  /** One user's claim of a card, alone (claim_slot); what a batch's RETRY and a failed batch fall back on. */
  async function claimAlone(cardId: string, userId: string): Promise<ClaimResult> {
    const [row] = await execute(sql`select outcome, redemption_id, redemption_count from gift_cards.claim_slot(${cardId}::uuid, ${userId}, ${deps.leaseMs})`);
    return claimResultOf(row);
  }

  /** A claim made alone, its failure its own answer: one claim that fails must not fail the batch it came from, winners included. */
  function claimAloneOrError(cardId: string, userId: string): Promise<ClaimResult | Error> {
    return claimAlone(cardId, userId).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  }

  /**
   * The claims of one card in one statement, each answered in its place. One user twice in a
   * batch (a double click) is claimed once; the second place is answered as a claim right
   * after the first would be: ALREADY_REDEEMED when the first claimed, else the first's own
   * answer (claim_slots answered any repeated place ALREADY_REDEEMED, even when the first
   * found the card used up, disabled or expired).
   */
  async function claimTogether(cardId: string, userIds: readonly string[]): Promise<(ClaimResult | Error)[]> {
    const firstPlace = new Map<string, number>();
    for (const userId of userIds) if (!firstPlace.has(userId)) firstPlace.set(userId, firstPlace.size);
    if (firstPlace.size === userIds.length) return claimEachOnce(cardId, userIds);
    const answers = await claimEachOnce(cardId, [...firstPlace.keys()]);
    const answered = new Set<string>();
    return userIds.map((userId) => {
      const answer = answers[firstPlace.get(userId) as number] as ClaimResult | Error;
      if (!answered.has(userId)) {
        answered.add(userId);
        return answer;
      }
      return !(answer instanceof Error) && answer.outcome === 'CLAIMED' ? { ...answer, outcome: 'ALREADY_REDEEMED' } : answer;
    });
  }

  /** The claims of one card, no user twice, in one statement (claim_slots), each answered in its place. */
  async function claimEachOnce(cardId: string, userIds: readonly string[]): Promise<(ClaimResult | Error)[]> {
    deps.metrics?.claimBatchSize?.observe(userIds.length);
    let rows: Record<string, unknown>[];
    try {
      rows = await execute(
        sql`select ord, outcome, redemption_id, redemption_count from gift_cards.claim_slots(${cardId}::uuid, ${sql.param(userIds)}::text[], ${deps.leaseMs})`,
      );
    } catch (error) {
      // Rolled back as a whole by PostgreSQL (a deadlock it broke, a serialization failure):
      // nothing of it was written, so each claim is made alone. Any other failure (the
      // database out of reach, an answer lost after a commit) is every claim's answer, as it
      // would be for a claim of its own.
      if (!isRetryableTransactionError(error)) throw error;
      logger.warn({ err: error, cardId, claims: userIds.length }, 'a batch of claims was rolled back; each is made alone');
      deps.metrics?.claimsAlone?.inc({ reason: 'rolled_back' }, userIds.length);
      return Promise.all(userIds.map((userId) => claimAloneOrError(cardId, userId)));
    }
    return Promise.all(
      userIds.map(async (userId, index) => {
        const row = rows[index];
        if (!row || Number(row.ord) !== index + 1) throw new Error(`claim_slots answered out of order at ${index + 1}`);
        // Left without a slot while other claims hold the last ones: claim_slot waits for them.
        if (row.outcome === 'RETRY') {
          deps.metrics?.claimsAlone?.inc({ reason: 'held' });
          return claimAloneOrError(cardId, userId);
        }
        return claimResultOf(row);
      }),
    );
  }

  /**
   * Claims leave in batches, each card's on their own (natural batching, as the wallet's
   * credits do): a claim of a card that finds fewer than CLAIM_BATCHES_IN_FLIGHT of the card's
   * batches on their way leaves at once; the others gather and leave together when one
   * returns. Under a burst the database makes one transaction and one commit per batch, and
   * the claims of a card no longer queue on its counters one by one. One batcher per card, so
   * a card whose row an admin holds keeps only its own claims waiting, as single claims did.
   * A card's batcher goes when its last claim is answered.
   */
  const claimBatchers = new Map<string, Batcher<string, ClaimResult>>();
  async function claimSlot(cardId: string, userId: string): Promise<ClaimResult> {
    let batcher = claimBatchers.get(cardId);
    if (!batcher) {
      batcher = createBatcher<string, ClaimResult>((userIds) => claimTogether(cardId, userIds), {
        maxBatchSize: CLAIMS_PER_BATCH,
        maxInFlight: CLAIM_BATCHES_IN_FLIGHT,
      });
      claimBatchers.set(cardId, batcher);
    }
    try {
      return await batcher.load(userId);
    } finally {
      if (batcher.underway === 0 && claimBatchers.get(cardId) === batcher) claimBatchers.delete(cardId);
    }
  }

  async function claim(userId: string, code: string, clientAddress: string | null): Promise<Activation> {
    const subjects: AttemptSubject[] = [{ key: `user:${userId}`, limit: deps.limits.perUser }];
    if (clientAddress) subjects.push({ key: `address:${clientAddress}`, limit: deps.limits.perAddress });
    let codeHash: string;
    try {
      codeHash = hashCode(checkSubmittedCode(code), deps.codeKey);
    } catch (error) {
      if (error instanceof DomainError) {
        await limiter.check(execute, subjects);
        return wrongCode(subjects, error);
      }
      throw error;
    }
    // A card remembered used up is answered at once. (A caller past its attempt limit hears
    // USED_UP or ALREADY_REDEEMED here rather than RATE_LIMITED: the code is a real one, and
    // used up, which is all the answer says.)
    const remembered = await usedUpRefusal(codeHash, userId);
    if (remembered) throw remembered;
    const place = takeLookupPlace(userId, codeHash);
    const givePlaceBack = typeof place === 'function' ? place : await place;
    let found: Awaited<ReturnType<typeof lookupByUser.execute>>[number] | undefined;
    try {
      [found] = clientAddress
        ? await lookupByUserAndAddress.execute({ codeHash, userId, userKey: `user:${userId}`, addressKey: `address:${clientAddress}` })
        : await lookupByUser.execute({ codeHash, userId, userKey: `user:${userId}` });
      // No card: a wrong code. A caller already past its limit is refused without counting
      // more (one more statement, on the wrong-code path only); otherwise the failure is
      // counted, and the count that goes over answers RATE_LIMITED.
      if (!found) {
        await limiter.check(execute, subjects);
        return await wrongCode(subjects, new GiftCardNotFoundError());
      }
    } finally {
      givePlaceBack();
    }
    const { retryAfter, mine, ...card } = found;
    if (retryAfter > 0) throw new RateLimitedError(retryAfter);
    // A card already used up, disabled or expired in its last committed state is refused
    // without touching its row or shards; its own users hear ALREADY_REDEEMED. A used-up card
    // is remembered from here on (with its redeemers, read after this committed state), so
    // the rest of a promotion's burst costs no statement at all. `mine` and the status come
    // from one snapshot; a claim whose read predates the winning commit goes on to claim_slot,
    // which tells a double-tapping winner ALREADY_REDEEMED.
    const now = new Date();
    const status = statusOf(card, now);
    if (status !== 'ACTIVE') {
      if (status === 'USED_UP') rememberUsedUp(codeHash, card);
      if (mine) throw new GiftCardAlreadyRedeemedError();
      throw status === 'USED_UP' ? new GiftCardUsedUpError() : status === 'EXPIRED' ? new GiftCardExpiredError() : refusalFor(card, now);
    }
    if (mine) throw new GiftCardAlreadyRedeemedError();
    // The claim itself is one statement (drizzle/0007_claim_slots.sql), shared with the other
    // claims of this card that arrive while earlier ones are on their way: the card's counters
    // are locked from their update to the commit, inside PostgreSQL, with no round trip here.
    const result = await claimSlot(card.id, userId);
    switch (result.outcome) {
      case 'CLAIMED': {
        // The row as claim_slot wrote it; seq and the times come back with the delivery's update.
        const redemption: RedemptionRow = {
          id: String(result.redemptionId),
          seq: 0n,
          giftCardId: card.id,
          userId,
          amount: card.valueAmount,
          currencyCode: card.currencyCode,
          status: 'PENDING',
          walletTransactionId: null,
          attempts: 0,
          nextAttemptAt: now,
          lastError: null,
          parkedAt: null,
          createdAt: now,
          creditedAt: null,
        };
        return { giftCard: { ...card, redemptionCount: Number(result.redemptionCount) }, redemption };
      }
      case 'ALREADY_REDEEMED':
        throw new GiftCardAlreadyRedeemedError();
      case 'DISABLED':
        throw new GiftCardDisabledError();
      case 'EXPIRED':
        throw new GiftCardExpiredError();
      case 'USED_UP':
        rememberUsedUp(codeHash, card);
        throw new GiftCardUsedUpError();
      case 'NOT_FOUND':
        throw new GiftCardNotFoundError();
      default:
        throw new Error(`the claim answered ${String(result.outcome)}`);
    }
  }

  /**
   * The update that closes a delivered credit. Every winner runs it, so the credits confirmed
   * together (a batch of the wallet's) are closed together: one statement, one commit.
   */
  const credited = createBatcher<{ id: string; transactionId: string }, RedemptionRow | null>(
    async (batch) => {
      // drizzle types an update with `from` as returning nothing; it returns the rows it updated.
      const rows = (await db
        .update(redemptions)
        .set({ status: 'CREDITED', walletTransactionId: sql`c."transactionId"`, creditedAt: sql`now()`, lastError: null })
        .from(sql`jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as c(id uuid, "transactionId" text)`)
        .where(eq(redemptions.id, sql`c.id`))
        .returning()) as unknown as RedemptionRow[];
      const byId = new Map(rows.map((row) => [row.id, row]));
      return batch.map((item) => byId.get(item.id) ?? null);
    },
    { maxBatchSize: 100, maxInFlight: 2 },
  );

  /**
   * Writes a failed delivery on the row still PENDING (parked, or the next attempt's time) and
   * returns the row as written. When that write fails too, the credit is still owed and
   * PENDING, which is the answer, and the relay delivers it after its lease whatever the row
   * says: the row as it was is returned.
   */
  async function recordFailure(
    redemption: RedemptionRow,
    change: PgUpdateSetSource<typeof redemptions>,
    requestId: string | undefined,
  ): Promise<RedemptionRow> {
    try {
      const [written] = await db
        .update(redemptions)
        .set(change)
        .where(and(eq(redemptions.id, redemption.id), eq(redemptions.status, 'PENDING')))
        .returning();
      return written ?? redemption;
    } catch (error) {
      logger.warn({ redemptionId: redemption.id, err: error, requestId }, 'a failed credit could not be recorded; the relay will deliver it');
      return redemption;
    }
  }

  /** Sends one owed credit. Returns the redemption as it is afterwards; never throws for a wallet failure. */
  async function deliver(redemption: RedemptionRow, card: Pick<GiftCardRow, 'last4'> | null, requestId?: string): Promise<RedemptionRow> {
    return (await deliverWithBalance(redemption, card, requestId)).redemption;
  }

  /** `deliver`, with the wallet's balance after the credit when this call delivered it. */
  async function deliverWithBalance(
    redemption: RedemptionRow,
    card: Pick<GiftCardRow, 'last4'> | null,
    requestId?: string,
  ): Promise<{ redemption: RedemptionRow; balance: WalletBalance | null }> {
    let confirmed: { transactionId: string; balance: WalletBalance | null };
    try {
      confirmed = await deps.wallet.credit(
        {
          ownerId: redemption.userId,
          amountMinor: redemption.amount,
          currencyCode: redemption.currencyCode,
          description: card ? `Gift card …${card.last4}` : 'Gift card',
          idempotencyKey: creditKeyOf(redemption.id),
        },
        requestId,
      );
    } catch (error) {
      const attempts = redemption.attempts + 1;
      const refusal = permanentRefusalOf(error);
      if (refusal) {
        // Sending it again cannot help (a currency no longer the wallet's, a balance past its
        // maximum): park it for an operator and go on with the rest.
        deps.metrics?.deliveries.inc({ result: 'parked' });
        logger.error(
          { redemptionId: redemption.id, userId: redemption.userId, attempts, reason: refusal, requestId },
          'the wallet refused a credit for good; parked for an operator',
        );
        // Not parked yet if this write fails: the relay meets the same refusal and parks it then.
        return { redemption: await recordFailure(redemption, { attempts, lastError: refusal.slice(0, 500), parkedAt: sql`now()` }, requestId), balance: null };
      }
      deps.metrics?.deliveries.inc({ result: 'failed' });
      const delay = retryDelayMs(attempts);
      logger.warn({ redemptionId: redemption.id, attempts, retryInMs: delay, err: error, requestId }, 'wallet credit not confirmed; will retry');
      const retry = { attempts, lastError: (error as Error).message.slice(0, 500), nextAttemptAt: sql`now() + ${`${delay} milliseconds`}::interval` };
      return { redemption: await recordFailure(redemption, retry, requestId), balance: null };
    }
    deps.metrics?.deliveries.inc({ result: 'credited' });
    try {
      const closed = await credited.load({ id: redemption.id, transactionId: confirmed.transactionId });
      return { redemption: closed ?? redemption, balance: confirmed.balance };
    } catch (error) {
      // The wallet took the credit: the money is in the wallet, whatever happens to this row.
      // Answer from the wallet's word; the row stays PENDING until the relay sends the credit
      // again, which the wallet replays by its key (never a second credit), and closes it.
      logger.warn({ redemptionId: redemption.id, err: error, requestId }, 'a credit the wallet confirmed could not be recorded here; the relay will record it');
      return {
        redemption: { ...redemption, status: 'CREDITED', walletTransactionId: confirmed.transactionId, creditedAt: new Date(), lastError: null },
        balance: confirmed.balance,
      };
    }
  }

  const quickRetries = new Set<NodeJS.Timeout>();
  let closed = false;

  /** Tries a credit again after the next quick-retry delay, in the background; stops once it is credited. */
  function retrySoon(redemption: RedemptionRow, card: Pick<GiftCardRow, 'last4'>, requestId: string | undefined, round = 0): void {
    const delay = deps.quickRetryDelaysMs?.[round];
    if (delay === undefined || closed) return;
    const timer = setTimeout(() => {
      quickRetries.delete(timer);
      if (closed) return;
      deliver(redemption, card, requestId)
        .then((after) => {
          if (after.status === 'PENDING' && !after.parkedAt) retrySoon(after, card, requestId, round + 1);
        })
        .catch((error: unknown) => logger.warn({ err: error, redemptionId: redemption.id }, 'quick credit retry failed; the relay will deliver it'));
    }, delay);
    timer.unref();
    quickRetries.add(timer);
  }

  return {
    /** Claims the card for the user and tries the credit at once; the credit may stay PENDING for the relay. */
    async activate(userId: string, code: string, request: { requestId?: string; clientAddress?: string | null } = {}): Promise<Activation> {
      let activation: Activation;
      try {
        activation = await claim(userId, code, request.clientAddress ?? null);
      } catch (error) {
        deps.metrics?.claims.inc({ outcome: error instanceof DomainError ? error.code : 'error' });
        throw error;
      }
      deps.metrics?.claims.inc({ outcome: 'claimed' });
      const { requestId } = request;
      const delivered = await deliverWithBalance(activation.redemption, activation.giftCard, requestId);
      let { redemption } = delivered;
      // The delivery's update returns the row whole; only when it changed nothing (the relay
      // got there first) is the provisional row read back.
      if (redemption === activation.redemption) {
        // Read back when it can be: the claim is committed and its answer stands without it.
        const current = await db.query.redemptions.findFirst({ where: eq(redemptions.id, redemption.id) }).catch((error: unknown) => {
          logger.warn({ redemptionId: redemption.id, err: error, requestId }, 'a redemption could not be read back; answered as claimed');
          return undefined;
        });
        redemption = current ?? redemption;
      }
      if (redemption.status === 'PENDING' && !redemption.parkedAt) retrySoon(redemption, activation.giftCard, requestId);
      return { giftCard: activation.giftCard, redemption, walletBalance: redemption.status === 'CREDITED' ? delivered.balance : null };
    },

    /** Claims past the card's checks and not yet answered by the database (gathering into a batch, waiting to leave, or on their way). */
    claimsUnderway: () => [...claimBatchers.values()].reduce((sum, batcher) => sum + batcher.underway, 0),

    /** The caller's wallet balance now, from the wallet (an activation whose credit this request did not deliver). */
    walletBalance: (userId: string, requestId?: string) => deps.wallet.balance(userId, requestId),

    /** Cancels the quick retries still waiting (the relay delivers those credits). */
    close(): void {
      closed = true;
      for (const timer of quickRetries) clearTimeout(timer);
      quickRetries.clear();
    },

    /**
     * One pass of the relay: takes a batch of due PENDING redemptions (SKIP LOCKED, so
     * replicas share the work), leases them, and delivers each. The wallet's idempotency
     * key makes a second delivery of the same redemption harmless.
     */
    async relayOnce(): Promise<number> {
      const due = await db.transaction(async (tx) => {
        const rows = await tx
          .select()
          .from(redemptions)
          .where(and(eq(redemptions.status, 'PENDING'), isNull(redemptions.parkedAt), sql`${redemptions.nextAttemptAt} <= now()`))
          .orderBy(redemptions.nextAttemptAt)
          .limit(deps.batchSize)
          .for('update', { skipLocked: true });
        if (rows.length === 0) return [];
        await tx
          .update(redemptions)
          .set({ nextAttemptAt: sql`now() + ${`${deps.leaseMs} milliseconds`}::interval` })
          .where(
            inArray(
              redemptions.id,
              rows.map((row) => row.id),
            ),
          );
        return rows;
      });
      if (due.length === 0) return 0;
      const cards = await db
        .select({ id: giftCards.id, last4: giftCards.last4 })
        .from(giftCards)
        .where(inArray(giftCards.id, [...new Set(due.map((row) => row.giftCardId))]));
      const last4ById = new Map(cards.map((card) => [card.id, card]));
      const results = await Promise.all(due.map((row) => deliver(row, last4ById.get(row.giftCardId) ?? null)));
      const credited = results.filter((row) => row.status === 'CREDITED').length;
      logger.info({ due: due.length, credited }, 'credit relay pass');
      return credited;
    },

    /** How many credits are owed and not yet confirmed, parked ones included. */
    async pendingCount(): Promise<number> {
      const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(redemptions).where(eq(redemptions.status, 'PENDING'));
      return row?.count ?? 0;
    },

    /** How many owed credits the wallet refused for good and wait for an operator. */
    async parkedCount(): Promise<number> {
      const [row] = await db
        .select({ count: sql<number>`count(*)::int` })
        .from(redemptions)
        .where(and(eq(redemptions.status, 'PENDING'), isNotNull(redemptions.parkedAt)));
      return row?.count ?? 0;
    },
  };
}

export type RedemptionService = ReturnType<typeof createRedemptionService>;

/** Runs the relay every `intervalMs` until stopped; a failed pass is logged and retried next time. */
export function startCreditRelay(service: RedemptionService, intervalMs: number, logger: Logger): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = service
      .relayOnce()
      .catch((error: unknown) => logger.error({ err: error }, 'credit relay pass failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
