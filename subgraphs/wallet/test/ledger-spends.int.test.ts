// The wallet's spends in batches, against a real PostgreSQL with real pools: concurrent spends
// are posted together (one statement, one transaction, one commit for a batch), and each
// caller still gets exactly what a spend alone would have given it: its own entry and wallet,
// its own refusal, a replay for a key sent twice, IDEMPOTENCY_KEY_REUSED for a key reused with
// another input. Money is checked against the table after every test: nothing lost, nothing
// taken twice, no balance below zero.

import { randomUUID } from 'node:crypto';
import { Counter, Histogram, isDatabaseUnavailable, type Money, Registry } from '@giftpay/common';
import { connectDatabase } from '@giftpay/common/db';
import {
  assertLedgerMatchesResponses,
  CONTENDED_LEDGER_TIMEOUTS,
  createTestDatabase,
  holdWalletRow,
  type SuccessfulRequest,
  type TestDatabase,
  waitUntilBlockedBy,
} from '@giftpay/testing';
import { drizzle } from 'drizzle-orm/postgres-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../src/db/schema.ts';
import { createLedger, type Ledger, type PostedTransaction } from '../src/ledger.service.ts';

let database: TestDatabase;
/** Two ledgers on pools of their own, as two replicas of the wallet are. */
let ledger: Ledger;
let replica: Ledger;
/** A replica whose statements wait at most 300 ms for a row lock (DB_LOCK_TIMEOUT_MS). */
let impatient: Ledger;
const closers: (() => Promise<void>)[] = [];
/** The batches' metrics, shared by every ledger here (wallet_post_batch_size, wallet_posted_alone_total). */
const registry = new Registry();
const batchSize = new Histogram({ name: 'batch_size', help: 'h', labelNames: ['operation'], buckets: [2, 5, 10, 20, 50], registers: [registry] });
const postedAlone = new Counter({ name: 'posted_alone', help: 'h', labelNames: ['reason'], registers: [registry] });

/** A series of the batch-size histogram for one operation: `batch_size_count` (batches) or `batch_size_sum` (their entries). */
async function batchSeries(series: 'batch_size_count' | 'batch_size_sum', operation: string): Promise<number> {
  const { values } = await batchSize.get();
  return values.find((value) => value.metricName === series && value.labels.operation === operation)?.value ?? 0;
}

/** Entries posted again alone for `reason`. */
async function aloneFor(reason: string): Promise<number> {
  const { values } = await postedAlone.get();
  return values.find((value) => value.labels.reason === reason)?.value ?? 0;
}

/** Every statement each ledger sent, in order, with its parameters. */
const sent: { query: string; params: unknown[] }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const open = (name: string, timeouts = CONTENDED_LEDGER_TIMEOUTS) => {
    const connection = connectDatabase(database.url, schema, { applicationName: name, maxConnections: 10, timeouts });
    closers.push(connection.close);
    const db = drizzle(connection.sql, { schema, logger: { logQuery: (query, params) => sent.push({ query, params }) } });
    return createLedger({ db, defaultCurrency: 'IRR', findUserIdByUsername: async () => null, metrics: { batchSize, postedAlone } });
  };
  ledger = open('ledger-spends-test');
  replica = open('ledger-spends-replica');
  impatient = open('ledger-spends-impatient', { ...CONTENDED_LEDGER_TIMEOUTS, lockMs: 300 });
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

const irr = (minor: number): Money => ({ minor: BigInt(minor), currencyCode: 'IRR' });

/** A new owner whose wallet holds `amount`, and that credit as a success to count. */
interface Funded {
  readonly ownerId: string;
  readonly funding: SuccessfulRequest;
}

async function funded(amount: number): Promise<Funded> {
  const ownerId = randomUUID();
  const key = randomUUID();
  const posted = await ledger.credit({ ownerId, amount: irr(amount), description: 'funding', idempotencyKey: key, scope: 'test' });
  return { ownerId, funding: { operation: 'credit', ownerId, key, amount: BigInt(amount), scope: 'test', transactionId: posted.entry.id } };
}

interface Spend {
  readonly ownerId: string;
  readonly amount: number;
  readonly key: string;
  readonly description?: string;
}

function spend(on: Ledger, { ownerId, amount, key, description }: Spend): Promise<PostedTransaction> {
  return on.spend({ ownerId, amount: irr(amount), description: description ?? `spend ${amount}`, idempotencyKey: key });
}

function succeeded(request: Spend, posted: PostedTransaction): SuccessfulRequest {
  return { operation: 'spend', ownerId: request.ownerId, key: request.key, amount: BigInt(request.amount), transactionId: posted.entry.id };
}

/** The ledger of `owners` against their fundings and these spends, each answered as `answers` says (same order). */
function assertSpendsPosted(owners: readonly Funded[], spends: readonly Spend[], answers: readonly PostedTransaction[]) {
  return assertLedgerMatchesResponses(
    database.sql,
    [...owners.map(({ funding }) => funding), ...spends.map((request, index) => succeeded(request, answers[index] as PostedTransaction))],
    { ownerIds: owners.map(({ ownerId }) => ownerId) },
  );
}

/** The statements that posted spends (with wallet.post_entry), after the `from`th statement sent. */
const spendStatements = (from = 0) =>
  sent
    .slice(from)
    .filter(({ query, params }) => query.includes('post_entry') && params.some((param) => param === 'DEBIT' || String(param).includes('"DEBIT"')));

/**
 * How many distinct statements that posted spends carried each key (a key twice in one batch
 * counts once): more than expected means a batch was sent again.
 */
function statementsByKey(from: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { params } of spendStatements(from)) {
    const keys = new Set<string>();
    for (const param of params) {
      if (typeof param === 'string' && param.startsWith('[')) for (const entry of JSON.parse(param) as { key: string }[]) keys.add(entry.key);
    }
    // A spend alone carries its key as a parameter of its own (the second, after the scope).
    if (keys.size === 0 && typeof params[1] === 'string') keys.add(params[1]);
    for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** `count` wallets of 500 with a spend of 100 each, and one of 50 with a spend of 60 it cannot pay. */
async function richAndPoor(count: number) {
  const rich = await Promise.all(Array.from({ length: count }, () => funded(500)));
  const poor = await funded(50);
  const refused: Spend = { ownerId: poor.ownerId, amount: 60, key: randomUUID() };
  const others: Spend[] = rich.map(({ ownerId }) => ({ ownerId, amount: 100, key: randomUUID() }));
  return { rich, poor, refused, others };
}

/** POSTED for each spend that was, else its error's code. */
function outcomeCodes(outcomes: readonly PromiseSettledResult<PostedTransaction>[]): string[] {
  return outcomes.map((outcome) => (outcome.status === 'fulfilled' ? 'POSTED' : ((outcome.reason as { code?: string }).code ?? String(outcome.reason))));
}

describe('spends in batches', () => {
  it('answers each of 80 concurrent spends over 20 wallets with its own entry and wallet, in a handful of statements', async () => {
    const owners = await Promise.all(Array.from({ length: 20 }, () => funded(1000)));
    const requests: Spend[] = owners.flatMap(({ ownerId }, index) =>
      Array.from({ length: 4 }, (_, step) => ({ ownerId, amount: index + 1 + step * 100, key: randomUUID() })),
    );
    const before = sent.length;
    const [batchesBefore, batchedBefore] = [await batchSeries('batch_size_count', 'spend'), await batchSeries('batch_size_sum', 'spend')];
    const answers = await Promise.all(requests.map((request) => spend(ledger, request)));
    // One by one they would be 80 statements; together, a batch leaves while up to 50 gather.
    const statementsSent = spendStatements(before).length;
    expect(statementsSent).toBeLessThanOrEqual(8);
    // Each statement of two spends or more is one batch in the metrics, with its size.
    const batches = (await batchSeries('batch_size_count', 'spend')) - batchesBefore;
    const batched = (await batchSeries('batch_size_sum', 'spend')) - batchedBefore;
    expect(batches).toBeGreaterThan(0);
    expect(batched).toBe(80 - (statementsSent - batches));
    for (const [index, posted] of answers.entries()) {
      const request = requests[index] as Spend;
      expect(posted.replayed).toBe(false);
      expect(posted.entry.kind).toBe('DEBIT');
      expect(posted.entry.amount).toBe(BigInt(request.amount));
      expect(posted.entry.idempotencyKey).toBe(request.key);
      expect(posted.wallet.ownerId).toBe(request.ownerId);
      expect(posted.entry.walletId).toBe(posted.wallet.id);
    }
    // Each wallet's four entries follow one another: each balance after is the one before, less the amount.
    for (const { ownerId } of owners) {
      const mine = answers.filter((posted) => posted.wallet.ownerId === ownerId).sort((a, b) => Number(a.entry.seq - b.entry.seq));
      let balance = 1000n;
      for (const posted of mine) {
        balance -= posted.entry.amount;
        expect(posted.entry.balanceAfter).toBe(balance);
      }
    }
    await assertSpendsPosted(owners, requests, answers);
  });

  it('refuses only the spend its wallet cannot pay, and posts the others of its batch', async () => {
    const { rich, poor, refused, others } = await richAndPoor(10);
    // The poor wallet's spend in the middle of the batch, not at an end.
    const requests = [...others.slice(0, 5), refused, ...others.slice(5)];
    const refusedBefore = await aloneFor('refused');
    const outcomes = await Promise.allSettled(requests.map((request) => spend(ledger, request)));
    // The batch that held the refused spend was undone and halved until the refused spend was alone.
    expect((await aloneFor('refused')) - refusedBefore).toBeGreaterThanOrEqual(1);
    const codes = outcomeCodes(outcomes);
    expect(codes).toEqual([...Array(5).fill('POSTED'), 'INSUFFICIENT_FUNDS', ...Array(5).fill('POSTED')]);
    const posted = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    expect(posted.every((transaction) => !transaction.replayed && transaction.wallet.balance === 400n)).toBe(true);
    // The refused spend moved nothing and did not use its key up: once the wallet can pay, it is posted.
    expect((await ledger.ensureWallet(poor.ownerId)).balance).toBe(50n);
    const topUp = await ledger.credit({ ownerId: poor.ownerId, amount: irr(10), description: 'top-up', idempotencyKey: randomUUID(), scope: 'test' });
    const later = await spend(ledger, refused);
    expect(later.wallet.balance).toBe(0n);
    await assertLedgerMatchesResponses(
      database.sql,
      [
        ...rich.map(({ funding }) => funding),
        poor.funding,
        { operation: 'credit', ownerId: poor.ownerId, key: topUp.entry.idempotencyKey ?? '', amount: 10n, scope: 'test', transactionId: topUp.entry.id },
        ...others.map((request, index) => succeeded(request, posted[index] as PostedTransaction)),
        succeeded(refused, later),
      ],
      { ownerIds: [...rich.map(({ ownerId }) => ownerId), poor.ownerId] },
    );
  });

  it('finds the one spend of 41 its wallet cannot pay by halving the batch, in far fewer statements than one a spend', async () => {
    const { rich, poor, refused, others } = await richAndPoor(40);
    // The first two leave at once, alone; the rest gather into one batch, the poor spend among them.
    const requests = [...others.slice(0, 20), refused, ...others.slice(20)];
    const before = sent.length;
    const outcomes = await Promise.allSettled(requests.map((request) => spend(ledger, request)));
    const codes = outcomeCodes(outcomes);
    expect(codes).toEqual([...Array(20).fill('POSTED'), 'INSUFFICIENT_FUNDS', ...Array(20).fill('POSTED')]);
    // Spend by spend, the batch of 39 would have taken 39 statements more; halved, each level
    // sends two and only one of them fails: 2 + 1 + 2 x 6 levels at most.
    expect(spendStatements(before).length).toBeLessThanOrEqual(15);
    const posted = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    expect(posted.map((transaction) => transaction.wallet.balance)).toEqual(Array(40).fill(400n));
    expect((await ledger.ensureWallet(poor.ownerId)).balance).toBe(50n);
    await assertSpendsPosted(rich, others, posted);
  });

  it('posts a key sent twice at once once and replays it once, and refuses a key reused with another input alone', async () => {
    const { ownerId, funding } = await funded(1000);
    const twice: Spend = { ownerId, amount: 100, key: randomUUID() };
    const reusedKey = randomUUID();
    const first: Spend = { ownerId, amount: 200, key: reusedKey };
    const other: Spend = { ownerId, amount: 300, key: reusedKey };
    const settled = await Promise.allSettled([spend(ledger, twice), spend(ledger, first), spend(ledger, twice), spend(ledger, other)]);
    const [a, b, c, d] = settled;
    if (a?.status !== 'fulfilled' || b?.status !== 'fulfilled' || c?.status !== 'fulfilled') throw new Error(`a spend failed: ${JSON.stringify(settled)}`);
    expect([a.value.replayed, c.value.replayed].sort()).toEqual([false, true]);
    expect(c.value.entry.id).toBe(a.value.entry.id);
    // The first sent under the reused key is posted; the other input under it is refused.
    expect(b.value.replayed).toBe(false);
    expect(d?.status === 'rejected' && (d.reason as { code?: string }).code).toBe('IDEMPOTENCY_KEY_REUSED');
    const { wallets } = await assertLedgerMatchesResponses(
      database.sql,
      [funding, succeeded(twice, a.value), succeeded(twice, c.value), succeeded(first, b.value)],
      {
        ownerIds: [ownerId],
      },
    );
    expect(wallets.map((wallet) => wallet.balance)).toEqual([700n]);
  });

  it('posts every spend once, with no batch sent twice, when two replicas post batches over the same wallets in opposite orders', async () => {
    const owners = await Promise.all(Array.from({ length: 12 }, () => funded(10_000)));
    const requests: Spend[] = Array.from({ length: 240 }, (_, index) => ({
      ownerId: (owners[index % owners.length] as Funded).ownerId,
      amount: 1 + (index % 7),
      key: randomUUID(),
    }));
    const from = sent.length;
    // One replica takes the first half in send order, the other the second half reversed:
    // their batches share every wallet and take them at the same time.
    const [first, second] = await Promise.all([
      Promise.all(requests.slice(0, 120).map((request) => spend(ledger, request))),
      Promise.all(
        requests
          .slice(120)
          .reverse()
          .map((request) => spend(replica, request)),
      ),
    ]);
    const answers = [...first, ...second.reverse()];
    expect(answers.every((posted) => !posted.replayed)).toBe(true);
    // Each key went out in one statement: no batch failed and was sent again (a deadlock, say).
    const counts = statementsByKey(from);
    expect(requests.filter((request) => counts.get(request.key) !== 1)).toEqual([]);
    await assertSpendsPosted(owners, requests, answers);
  });

  it('posts each key once and replays it once when every spend is sent twice at once beside spends of the same wallets, with no batch sent twice', async () => {
    const owners = await Promise.all(Array.from({ length: 10 }, () => funded(10_000)));
    // As a client that retries at once: each key twice in a row, a wallet's 20 keys one after another.
    const requests: Spend[] = Array.from({ length: 200 }, (_, index) => ({
      ownerId: (owners[Math.floor(index / 20)] as Funded).ownerId,
      amount: 1 + (index % 5),
      key: randomUUID(),
    }));
    // One spend first, so that pairs fall across the batches' edges (50 spends a batch).
    const lead: Spend = { ownerId: (owners[0] as Funded).ownerId, amount: 1, key: randomUUID() };
    const sends = [lead, ...requests.flatMap((request) => [request, request])];
    const from = sent.length;
    const answers = await Promise.all(sends.map((request) => spend(ledger, request)));
    for (let index = 1; index < sends.length; index += 2) {
      const [posted, replayed] = [answers[index] as PostedTransaction, answers[index + 1] as PostedTransaction];
      expect([posted.replayed, replayed.replayed].sort()).toEqual([false, true]);
      expect(replayed.entry.id).toBe(posted.entry.id);
    }
    // The retry waited for the first (postSpend waits for a key already underway in this
    // process) and went in a later batch, where it was replayed: each key in exactly two
    // statements, the posting and the replay. Without that wait, a pair would share a batch
    // (one statement) or two batches in flight at once (the second queued for the wallet's row).
    const counts = statementsByKey(from);
    expect(requests.filter((request) => counts.get(request.key) !== 2)).toEqual([]);
    await assertSpendsPosted(owners, sends, answers);
  });

  it('answers only the spend whose wallet is held elsewhere past the lock timeout with an error, and posts the others of its batch', async () => {
    const owners = await Promise.all(Array.from({ length: 8 }, () => funded(1000)));
    const held = owners[3] as Funded;
    const holder = await holdWalletRow(database.sql, held.ownerId);
    try {
      const requests: Spend[] = owners.map(({ ownerId }) => ({ ownerId, amount: 100, key: randomUUID() }));
      const timeoutsBefore = await aloneFor('timeout');
      const outcomes = await Promise.allSettled(requests.map((request) => spend(impatient, request)));
      await holder.release();
      expect((await aloneFor('timeout')) - timeoutsBefore).toBeGreaterThanOrEqual(2);
      const refused = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [{ index, reason: outcome.reason as unknown }] : []));
      // Only the held wallet's spend timed out, as a database that cannot serve it now (SERVICE_UNAVAILABLE).
      expect(refused.map(({ index }) => index)).toEqual([3]);
      expect(isDatabaseUnavailable(refused[0]?.reason)).toBe(true);
      const posted = outcomes.flatMap((outcome, index) => (outcome.status === 'fulfilled' ? [succeeded(requests[index] as Spend, outcome.value)] : []));
      expect(posted).toHaveLength(7);
      // Nothing of the timed-out spend was written: sent again, now that the row is free, it is posted once.
      const again = await spend(impatient, requests[3] as Spend);
      expect(again.replayed).toBe(false);
      await assertLedgerMatchesResponses(database.sql, [...owners.map(({ funding }) => funding), ...posted, succeeded(requests[3] as Spend, again)], {
        ownerIds: owners.map(({ ownerId }) => ownerId),
      });
    } finally {
      await holder.release();
    }
  });

  it('answers every spend of a batch whose connection is lost as the database unavailable, commits none of them, and posts each once when sent again', async () => {
    const owners = await Promise.all(Array.from({ length: 8 }, () => funded(1000)));
    const held = owners[5] as Funded;
    const holder = await holdWalletRow(database.sql, held.ownerId);
    try {
      const requests: Spend[] = owners.map(({ ownerId }) => ({ ownerId, amount: 100, key: randomUUID() }));
      // They leave in batches; the one with the held wallet's spend posts its spends up to that
      // one's and waits there, when its connection is lost.
      const outcomes = Promise.allSettled(requests.map((request) => spend(ledger, request)));
      const [batchPid] = await waitUntilBlockedBy(database.sql, holder.pid);
      await database.sql`select pg_terminate_backend(${batchPid as number})`;
      await holder.release();
      const settled = await outcomes;
      const lost = settled.flatMap((outcome, index) => (outcome.status === 'rejected' ? [index] : []));
      // A batch was lost, not a spend alone: several spends, the held wallet's among them, each
      // answered as the database unavailable (a client may send it again).
      expect(lost).toContain(5);
      expect(lost.length).toBeGreaterThanOrEqual(2);
      expect(lost.map((index) => isDatabaseUnavailable((settled[index] as PromiseRejectedResult).reason))).toEqual(lost.map(() => true));
      // Nothing of the lost batch was written, not even the spends it posted before it waited.
      for (const index of lost) expect((await ledger.ensureWallet((requests[index] as Spend).ownerId)).balance).toBe(1000n);
      const answers: PostedTransaction[] = new Array(requests.length);
      settled.forEach((outcome, index) => {
        if (outcome.status === 'fulfilled') answers[index] = outcome.value;
      });
      const again = await Promise.all(lost.map((index) => spend(ledger, requests[index] as Spend)));
      expect(again.map((posted) => [posted.replayed, posted.wallet.balance])).toEqual(lost.map(() => [false, 900n]));
      lost.forEach((index, at) => {
        answers[index] = again[at] as PostedTransaction;
      });
      await assertSpendsPosted(owners, requests, answers);
    } finally {
      await holder.release();
    }
  });
});
