// The flash promotion: a code with `slots` slots and a crowd of distinct users, each sending
// one activation, `concurrency` in flight. Through a gateway the request asks for the
// redemption and the wallet; straight to gift-cards, only the redemption; at the database,
// the claim statement alone. Each run checks the outcome is exact (the slots taken, the
// rest refused as used up, the ledger credited once per winner, nothing owed at the end)
// and measures fairness: how many winners were among the first `slots` requests sent.

import { randomBytes, randomUUID } from 'node:crypto';
import { applyMigrations } from '@giftpay/common/db';
import { GIFT_CARDS_MIGRATIONS } from '@giftpay/gift-cards/migrate';
import postgres from 'postgres';
import { type BenchContext, codeOf, urlOf } from '../lib/context.ts';
import { burstFigures, type Check, check, type FlashFigures, measureCpu, type PathFigures, type PathId, round } from '../lib/figures.ts';
import { type Burst, createGraphQLClient, type GraphQLReply, percentile, runBurst } from '../lib/load.ts';
import { type BenchUser, splitSlots } from '../lib/seed.ts';
import type { BenchStack } from '../lib/stack.ts';

/** What a winner is credited, in IRR. */
const SLOT_VALUE = 1000;

const THROUGH_GATEWAY = `mutation ($code: String!) {
  activateGiftCard(input: { code: $code }) { redemption { status } wallet { balance { amount } } }
}`;
const STRAIGHT_TO_GIFT_CARDS = `mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }`;

type Activation = GraphQLReply<{ activateGiftCard?: { redemption?: { status?: string } } | null }>;

export interface FlashOptions {
  readonly slots: number;
  readonly users: readonly BenchUser[];
  readonly concurrency: number;
  /** Split the card over this many counter rows before the burst, whatever the stack chose at issue. */
  readonly shards?: number;
}

/** A card's redemption count as the API shows it: its own counter, plus its slot shards' when it has them. */
const LIVE_COUNT = `c.redemption_count + coalesce((select sum(s.used) from gift_cards.card_slot_shards s where s.card_id = c.id), 0)::int`;

const WINNING = new Set(['CREDITED', 'PENDING', 'CLAIMED']);

/** Issues a promotion of `slots` slots at `url` (a gateway's or gift-cards' GraphQL URL), as an admin would. */
export async function issuePromotion(url: string, adminToken: string, slots: number): Promise<{ id: string; code: string }> {
  const client = createGraphQLClient(1);
  try {
    const code = `BENCH-${randomBytes(6).toString('hex').toUpperCase()}`;
    const reply = await client.post<{ issueGiftCards?: { giftCards: { code: string; giftCard: { id: string } }[] } }>(
      url,
      'mutation ($i: IssueGiftCardsInput!) { issueGiftCards(input: $i) { giftCards { code giftCard { id } } } }',
      { i: { value: { amount: String(SLOT_VALUE), currencyCode: 'IRR' }, usageLimit: slots, code } },
      adminToken,
    );
    const issued = reply.data?.issueGiftCards?.giftCards[0];
    if (!issued) throw new Error(`the promotion could not be issued: ${JSON.stringify(reply.errors)}`);
    return { id: issued.giftCard.id, code: issued.code };
  } finally {
    client.close();
  }
}

function flashFigures<R>(burst: Burst<R>, slots: number, users: number): FlashFigures {
  const winners = burst.samples.filter((sample) => WINNING.has(sample.outcome));
  const winnerLatency = winners.map((sample) => sample.ms).sort((a, b) => a - b);
  const amongFirst = winners.filter((sample) => sample.position < slots).length;
  const lastAnswer = winners.reduce((latest, sample) => Math.max(latest, sample.sentMs + sample.ms), 0);
  const pending = winners.filter((sample) => sample.outcome === 'PENDING').length;
  const told = winners.filter((sample) => sample.outcome !== 'CLAIMED').length;
  return {
    slots,
    users,
    winners: winners.length,
    fillSeconds: winners.length > 0 ? round(lastAnswer / 1000, 2) : null,
    winnersLatencyMs: { p50: round(percentile(winnerLatency, 50) ?? Number.NaN), p99: round(percentile(winnerLatency, 99) ?? Number.NaN) },
    pendingShare: told > 0 ? round(pending / told, 3) : null,
    winnersAmongFirstN: amongFirst,
    winnersAmongFirstNShare: winners.length > 0 ? round(amongFirst / winners.length, 3) : null,
    latestWinningPosition: winners.length > 0 ? Math.max(...winners.map((sample) => sample.position)) + 1 : null,
  };
}

function answersChecks(burst: Burst<unknown>, slots: number, users: number, refusal: string): Check[] {
  const outcomes = burst.samples.map((sample) => sample.outcome);
  const winners = outcomes.filter((outcome) => WINNING.has(outcome)).length;
  const refused = outcomes.filter((outcome) => outcome === refusal).length;
  const other = outcomes.length - winners - refused;
  return [
    check(
      'every request was sent and answered',
      burst.unsent === 0 && burst.samples.length === users,
      `${burst.samples.length} answered, ${burst.unsent} unsent`,
    ),
    check('exactly one winner per slot', winners === slots, `${winners} winners for ${slots} slots`),
    check(`everyone else told ${refusal}`, refused === users - slots && other === 0, `${refused} ${refusal}, ${other} other answers`),
  ];
}

/** Waits (bounded) until nothing of the card is owed, then checks the card, its redemptions and the ledger. */
async function settledChecks(
  context: BenchContext,
  cardId: string,
  winnerIds: ReadonlySet<string>,
  slots: number,
): Promise<{ checks: Check[]; claimToCreditMs: FlashFigures['claimToCreditMs'] }> {
  const { sql } = context.stack;
  const started = performance.now();
  let pending = Number.NaN;
  for (;;) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${cardId} and status = 'PENDING'`;
    pending = row?.n ?? Number.NaN;
    if (pending === 0 || performance.now() - started > context.settleMs) break;
    await new Promise((done) => setTimeout(done, 250));
  }
  const [card] = await sql<{ count: number }[]>`select ${sql.unsafe(LIVE_COUNT)} as count from gift_cards.gift_cards c where c.id = ${cardId}`;
  const redeemers = await sql<{ user_id: string }[]>`select user_id from gift_cards.redemptions where gift_card_id = ${cardId}`;
  const [ledger] = await sql<{ n: number; total: string }[]>`
    select count(*)::int as n, coalesce(sum(l.amount), 0)::text as total
    from gift_cards.redemptions r
    join wallet.ledger_entries l on l.idempotency_key = 'gift-card-redemption:' || r.id and l.kind = 'CREDIT'
    where r.gift_card_id = ${cardId}`;
  const delays = await sql<{ ms: number }[]>`
    select extract(epoch from (credited_at - created_at)) * 1000 as ms from gift_cards.redemptions
    where gift_card_id = ${cardId} and status = 'CREDITED'`;
  const sorted = delays.map((row) => Number(row.ms)).sort((a, b) => a - b);
  const sameWinners = redeemers.length === winnerIds.size && redeemers.every((row) => winnerIds.has(row.user_id));
  const expectedTotal = String(slots * SLOT_VALUE);
  return {
    checks: [
      check("the card's count says every slot is taken", card?.count === slots, `redemption count ${card?.count} of ${slots}`),
      check('the redemptions are the winners told so', sameWinners, `${redeemers.length} redemptions, ${winnerIds.size} winners answered`),
      check('nothing pending at the end', pending === 0, `${pending} pending after ${round((performance.now() - started) / 1000, 1)} s`),
      check(
        'the ledger holds one credit per winner and the right total',
        ledger?.n === slots && ledger?.total === expectedTotal,
        `${ledger?.n} credits, ${ledger?.total} IRR (expected ${slots}, ${expectedTotal})`,
      ),
    ],
    claimToCreditMs: {
      p50: round(percentile(sorted, 50) ?? Number.NaN),
      p99: round(percentile(sorted, 99) ?? Number.NaN),
      max: round(sorted.at(-1) ?? Number.NaN),
    },
  };
}

/** A flash promotion through a gateway, or straight to the gift-cards subgraph (`direct`). */
export async function flashOverGraphQL(context: BenchContext, path: PathId, options: FlashOptions): Promise<PathFigures> {
  const { slots, users, concurrency } = options;
  const card = await issuePromotion(urlOf(context, 'giftpay', 'gift-cards'), context.admin.token, slots);
  if (options.shards !== undefined) await splitSlots(context.stack.sql, card.id, options.shards);
  const url = urlOf(context, path, 'gift-cards');
  const query = path === 'direct' ? STRAIGHT_TO_GIFT_CARDS : THROUGH_GATEWAY;
  const client = createGraphQLClient(concurrency);
  const outcome = (reply: Activation) => reply.data?.activateGiftCard?.redemption?.status ?? codeOf(reply) ?? `HTTP_${reply.status}_NO_DATA`;
  const { value: burst, ...spent } = await measureCpu(context.probe, () =>
    runBurst(
      users.length,
      concurrency,
      context.deadlineMs,
      (index) => client.post(url, query, { code: card.code }, (users[index] as BenchUser).token),
      outcome,
    ),
  ).finally(() => client.close());
  const winnerIds = new Set(burst.samples.filter((sample) => WINNING.has(sample.outcome)).map((sample) => (users[sample.position] as BenchUser).id));
  const settled = await settledChecks(context, card.id, winnerIds, slots);
  const checks = [...answersChecks(burst as Burst<unknown>, slots, users.length, 'GIFT_CARD_USED_UP'), ...settled.checks];
  return {
    ...burstFigures('flash', path, concurrency, burst, spent, (code) => WINNING.has(code) || code === 'GIFT_CARD_USED_UP'),
    flash: { ...flashFigures(burst, slots, users.length), claimToCreditMs: settled.claimToCreditMs },
    checks,
    exact: checks.every((item) => item.ok),
  };
}

/** A database of its own on the stack's server, with gift-cards' tables, for the claim statement alone. */
export async function prepareCeilingDatabase(stack: BenchStack): Promise<string> {
  await stack.sql.unsafe('create database bench_ceiling');
  const url = stack.databaseUrl.replace(/\/giftpay$/, '/bench_ceiling');
  await applyMigrations(url, GIFT_CARDS_MIGRATIONS);
  return url;
}

/**
 * The database's ceiling: the claim statement (`gift_cards.claim_slot`, what gift-cards runs
 * per activation) alone, over a pool of the size each service opens, `concurrency` waiting
 * on it, one distinct user per claim, as many as the flash has.
 */
export async function flashAtDatabase(
  context: BenchContext,
  ceilingUrl: string,
  options: { slots: number; users: number; concurrency: number; shards: number },
): Promise<PathFigures> {
  const { slots, users, concurrency, shards } = options;
  const sql = postgres(ceilingUrl, { max: context.stack.poolSize, onnotice: () => {} });
  try {
    const [card] = await sql<{ id: string }[]>`
      insert into gift_cards.gift_cards (code_hash, last4, value_amount, currency_code, usage_limit, created_by)
      values (${randomUUID()}, 'BNCH', ${SLOT_VALUE}, 'IRR', ${slots}, 'bench') returning id`;
    const cardId = card?.id as string;
    await splitSlots(sql, cardId, shards);
    // Open the pool's connections first, as a running service has them.
    await Promise.all(Array.from({ length: context.stack.poolSize }, () => sql`select 1`));
    const userIds = Array.from({ length: users }, () => randomUUID());
    const { value: burst, ...spent } = await measureCpu(context.probe, () =>
      runBurst(
        users,
        concurrency,
        context.deadlineMs,
        (index) => sql<{ outcome: string }[]>`select outcome from gift_cards.claim_slot(${cardId}::uuid, ${userIds[index] as string}, 30000)`,
        (rows) => rows[0]?.outcome ?? 'NO_ROW',
      ),
    );
    const [counted] = await sql<{ count: number; rows: number }[]>`
      select ${sql.unsafe(LIVE_COUNT)} as count, (select count(*)::int from gift_cards.redemptions r where r.gift_card_id = c.id) as rows
      from gift_cards.gift_cards c where c.id = ${cardId}`;
    const checks = [
      ...answersChecks(burst as Burst<unknown>, slots, users, 'USED_UP'),
      check(
        'the counter and the redemptions say every slot is taken once',
        counted?.count === slots && counted?.rows === slots,
        `count ${counted?.count}, ${counted?.rows} rows`,
      ),
    ];
    return {
      ...burstFigures('flash', 'database', concurrency, burst, spent, (code) => code === 'CLAIMED' || code === 'USED_UP'),
      flash: flashFigures(burst, slots, users),
      checks,
      exact: checks.every((item) => item.ok),
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
