// Helpers for tests of promotions and of the gift-cards credit outbox: issuing a promotion,
// signing up many users, a burst of activations and the tally of its answers, the credits
// the wallet's ledger holds for the test's own users, the outbox rows of a card, owed
// credits settled in real time (a short lease and polling with a deadline, never by moving
// `next_attempt_at` by hand), gift-cards servers beside a wallet behind a FaultyProxy, and
// reading the request counters a service exposes on /metrics.

import { randomBytes } from 'node:crypto';
import { type Env, type Listening, listen } from '@giftpay/common';
import { createServer as createGiftCards, type GiftCardsServer } from '@giftpay/gift-cards';
import { loadConfig as loadGiftCardsConfig } from '@giftpay/gift-cards/config';
import { createServer as createWallet, type WalletServer } from '@giftpay/wallet';
import { loadConfig as loadWalletConfig } from '@giftpay/wallet/config';
import type postgres from 'postgres';
import { addressNobodyListensOn } from './addresses.ts';
import { type FaultyProxy, startFaultyProxy } from './faulty-proxy.ts';
import { type GraphQLResult, type SignedIn, type Stack, testEnv } from './stack.ts';
import { waitUntil } from './waits.ts';

/** The activation operation, with what the promotion tests read from its answer. */
export const ACTIVATE_GIFT_CARD = `mutation ($code: String!) {
  activateGiftCard(input: { code: $code }) { redemption { id status } giftCard { id redemptionCount usageLimit } }
}`;

export interface ActivationData {
  activateGiftCard: { redemption: { id: string; status: string }; giftCard: { id: string; redemptionCount: number; usageLimit: number } };
}

export type ActivationResult = GraphQLResult<ActivationData>;

/** A promotion: one code, `usageLimit` distinct users, `amount` IRR each. */
export function issuePromotion(stack: Stack, amount: string, usageLimit: number): Promise<{ code: string; id: string }> {
  return stack.issueGiftCard({ amount, usageLimit });
}

/** Signs up `count` users, a hundred at a time. */
export async function signUpMany(stack: Stack, count: number): Promise<SignedIn[]> {
  const users: SignedIn[] = [];
  for (let start = 0; start < count; start += 100) {
    users.push(...(await Promise.all(Array.from({ length: Math.min(100, count - start) }, () => stack.signUp()))));
  }
  return users;
}

export function activateGiftCard(stack: Stack, user: SignedIn, code: string): Promise<ActivationResult> {
  return stack.graphql<ActivationData>(ACTIVATE_GIFT_CARD, { token: user.token, variables: { code } });
}

/** Every user activates the code at once. */
export function burst(stack: Stack, users: readonly SignedIn[], code: string): Promise<ActivationResult[]> {
  return Promise.all(users.map((user) => activateGiftCard(stack, user, code)));
}

export interface ActivationTally {
  /** Answers that carry a redemption: the slot was taken. */
  readonly claimed: number;
  readonly credited: number;
  readonly pending: number;
  /** Refusals by `extensions.code`. */
  readonly refusals: Readonly<Record<string, number>>;
  /** The users whose answer carried a redemption. */
  readonly claimedBy: readonly SignedIn[];
}

/** What a burst was answered, counted from the answers alone (never from the database). */
export function tallyActivations(users: readonly SignedIn[], results: readonly ActivationResult[]): ActivationTally {
  const refusals: Record<string, number> = {};
  const claimedBy: SignedIn[] = [];
  let credited = 0;
  let pending = 0;
  results.forEach((result, index) => {
    const redemption = result.data?.activateGiftCard?.redemption;
    if (redemption) {
      const user = users[index];
      if (user) claimedBy.push(user);
      if (redemption.status === 'CREDITED') credited += 1;
      if (redemption.status === 'PENDING') pending += 1;
      return;
    }
    const code = String(result.errors?.[0]?.extensions?.code ?? 'NO_ANSWER');
    refusals[code] = (refusals[code] ?? 0) + 1;
  });
  return { claimed: claimedBy.length, credited, pending, refusals, claimedBy };
}

export interface LedgerCredits {
  /** Credit entries in these owners' wallets. */
  readonly credits: number;
  readonly total: bigint;
  /** Owners with at least one credit. */
  readonly owners: number;
  /** The most credits any one owner has. */
  readonly mostPerOwner: number;
  /** (wallet, idempotency key) pairs that appear more than once: a duplicate applied. */
  readonly duplicateKeys: number;
}

/**
 * The service credits in the wallet's ledger for the given owners, read straight from the
 * tables. Scoped by owner, not by key: a duplicate sent under another key still shows.
 */
export async function ledgerCreditsOf(sql: postgres.Sql, ownerIds: readonly string[]): Promise<LedgerCredits> {
  if (ownerIds.length === 0) return { credits: 0, total: 0n, owners: 0, mostPerOwner: 0, duplicateKeys: 0 };
  const [row] = await sql`
    with mine as (
      select e.wallet_id, e.amount, e.idempotency_key, w.owner_id
      from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id
      where w.owner_id in ${sql(ownerIds as string[])} and e.operation = 'credit'
    )
    select
      (select count(*) from mine)::int as credits,
      (select coalesce(sum(amount), 0) from mine)::bigint as total,
      (select count(distinct owner_id) from mine)::int as owners,
      (select coalesce(max(n), 0) from (select count(*) as n from mine group by owner_id) per_owner)::int as most_per_owner,
      (select count(*) from (select 1 from mine group by wallet_id, idempotency_key having count(*) > 1) dup)::int as duplicate_keys`;
  return {
    credits: row?.credits ?? -1,
    total: BigInt(row?.total ?? -1),
    owners: row?.owners ?? -1,
    mostPerOwner: row?.most_per_owner ?? -1,
    duplicateKeys: row?.duplicate_keys ?? -1,
  };
}

export interface OutboxRow {
  readonly id: string;
  readonly userId: string;
  readonly status: 'PENDING' | 'CREDITED';
  readonly attempts: number;
  readonly lastError: string | null;
  readonly walletTransactionId: string | null;
  /** Epoch milliseconds, with the database's sub-millisecond part. */
  readonly nextAttemptAtMs: number;
  readonly createdAtMs: number;
}

/** The redemptions (outbox rows) of one card, oldest first. */
export async function outboxRowsOf(sql: postgres.Sql, cardId: string): Promise<OutboxRow[]> {
  const rows = await sql`
    select id, user_id, status, attempts, last_error, wallet_transaction_id,
      extract(epoch from next_attempt_at) * 1000 as next_ms, extract(epoch from created_at) * 1000 as created_ms
    from gift_cards.redemptions where gift_card_id = ${cardId} order by seq`;
  return rows.map((row) => ({
    id: row.id,
    userId: row.user_id,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    walletTransactionId: row.wallet_transaction_id,
    nextAttemptAtMs: Number(row.next_ms),
    createdAtMs: Number(row.created_ms),
  }));
}

/** The database's clock (not the transaction's start), in epoch milliseconds. */
export async function databaseNowMs(sql: postgres.Sql): Promise<number> {
  const [row] = await sql`select extract(epoch from clock_timestamp()) * 1000 as now_ms`;
  return Number(row?.now_ms);
}

/** Waits, in real time, until every PENDING credit of the card is due (its lease or back-off over). Reads only. */
export async function waitUntilOwedCreditsDue(sql: postgres.Sql, cardId: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    `the owed credits of card ${cardId} to fall due`,
    async () => {
      const [row] = await sql`select count(*)::int as waiting from gift_cards.redemptions
        where gift_card_id = ${cardId} and status = 'PENDING' and next_attempt_at > clock_timestamp()`;
      return row?.waiting === 0;
    },
    { timeoutMs },
  );
}

/**
 * Runs the relay by hand until no credit of the card is owed any more, waiting real time
 * between passes for leases and back-offs to run out. Returns the passes it took.
 */
export async function settleOwedCredits(
  giftCards: { redemptions: { relayOnce(): Promise<number> } },
  sql: postgres.Sql,
  cardId: string,
  timeoutMs = 30_000,
): Promise<number> {
  let passes = 0;
  await waitUntil(
    `the owed credits of card ${cardId} to be delivered`,
    async () => {
      const [row] = await sql`select count(*)::int as owed from gift_cards.redemptions where gift_card_id = ${cardId} and status = 'PENDING'`;
      if (row?.owed === 0) return true;
      await giftCards.redemptions.relayOnce();
      passes += 1;
      return false;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return passes;
}

/**
 * For an `afterEach`: drops the credits still owed in this file's database. A test that
 * passes leaves none; one that failed half-way must not hand its owed credits to the next
 * test's relay pass (relayOnce takes every due credit in the database).
 */
export async function forgetOwedCredits(sql: postgres.Sql): Promise<void> {
  await sql`delete from gift_cards.redemptions where status = 'PENDING'`;
}

/** Bounds of retryDelayMs(attempts) as the design states them: exponential from 1 s, capped at 5 min, jittered between half and all. */
export function backOffBoundsMs(attempts: number): { min: number; max: number } {
  const max = Math.min(5 * 60_000, 1000 * 2 ** attempts);
  return { min: max / 2, max };
}

/** Another gift-cards server over the stack's database, reaching the wallet through the stack's faulty link (as a restart or a replica would). */
export async function startGiftCardsReplica(stack: Stack, env: Env = {}, options: { startRelay?: boolean } = {}): Promise<GiftCardsServer> {
  if (!stack.walletLink) throw new Error('startGiftCardsReplica needs a stack started with faultyWalletLink');
  const config = loadGiftCardsConfig({ ...stack.env, WALLET_URL: stack.walletLink.url, GIFT_CARDS_PORT: '0', ...env });
  return createGiftCards({ config, startRelay: options.startRelay ?? false });
}

/** One card issued straight through a gift-cards server (no gateway): its code and id. */
export async function issueOneCard(
  giftCards: GiftCardsServer,
  options: { usageLimit: number; amountMinor?: bigint; issuedBy: string },
): Promise<{ code: string; id: string }> {
  const [issued] = await giftCards.cards.issue({
    value: { minor: options.amountMinor ?? 50n, currencyCode: 'IRR' },
    count: 1,
    usageLimit: options.usageLimit,
    issuedBy: options.issuedBy,
  });
  if (!issued) throw new Error('no card issued');
  return { code: issued.code, id: issued.giftCard.id };
}

export interface WalletBehindLink {
  readonly wallet: WalletServer;
  readonly link: FaultyProxy;
  /** A gift-cards server over the same database whose wallet calls go through `link`; the caller closes it. */
  startGiftCards(env?: Env, options?: { startRelay?: boolean }): Promise<GiftCardsServer>;
  close(): Promise<void>;
}

/** A real wallet server behind a FaultyProxy, for gift-cards integration tests that need no gateway. */
export async function startWalletBehindLink(databaseUrl: string): Promise<WalletBehindLink> {
  // The wallet verifies tokens against accounts' JWKS; these tests never send one.
  const env = testEnv(databaseUrl, { ACCOUNTS_URL: await addressNobodyListensOn() });
  const wallet = await createWallet({ config: loadWalletConfig(env) });
  const walletListening: Listening = await listen(wallet.server, 0, '127.0.0.1');
  const link = await startFaultyProxy(walletListening.url);
  return {
    wallet,
    link,
    startGiftCards(overrides = {}, options = {}) {
      return createGiftCards({ config: loadGiftCardsConfig({ ...env, WALLET_URL: link.url, ...overrides }), startRelay: options.startRelay ?? false });
    },
    async close() {
      await link.close();
      await walletListening.close();
      await wallet.close();
    },
  };
}

/**
 * The idempotency keys of the wallet credits in request bodies (from `FaultyProxy.bodies` or
 * `forwardedBodies`): gift-cards sends credits in batches (`{ credits: [...] }`, the wallet's
 * /internal/credit-batches), one call for the credits that leave together.
 */
export function creditKeysIn(bodies: readonly string[]): string[] {
  return bodies.flatMap((body) => {
    const parsed = JSON.parse(body) as { credits?: { idempotencyKey: string }[] };
    return parsed.credits?.map((credit) => credit.idempotencyKey) ?? [];
  });
}

/** A user id of the test's own, for services called without the gateway. */
export function testUserId(prefix = 'user'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** The value of one series, e.g. `giftcard_credits_pending` or `graphql_errors_total{code="X"}` (other labels ignored); undefined when absent. */
export function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}
