// Spend: concurrent idempotent debits. Each user spends `keys` times, and every spend is sent
// twice in a row with the same idempotency key (a client retrying before its first answer),
// so the pair races on the key. Exact means: every request answered, the two of a pair
// answered with the same transaction, and the ledger holds one debit per key, no more.

import { randomUUID } from 'node:crypto';
import { type BenchContext, codeOf, urlOf } from '../lib/context.ts';
import { burstFigures, check, measureCpu, type PathFigures, type PathId } from '../lib/figures.ts';
import { createGraphQLClient, type GraphQLReply, runBurst } from '../lib/load.ts';
import type { BenchUser } from '../lib/seed.ts';

const SPEND = `mutation ($i: SpendInput!) { spend(input: $i) { transaction { id } wallet { balance { amount } } } }`;
/** Each debit, in IRR. */
const DEBIT = 1000;
const SENDS_PER_KEY = 2;

type Spent = GraphQLReply<{ spend?: { transaction?: { id?: string } } | null }>;

export interface SpendOptions {
  /** Users whose wallets hold `funds` IRR each, used by no other run. */
  readonly users: readonly BenchUser[];
  readonly funds: number;
  readonly keys: number;
  readonly concurrency: number;
}

export async function spend(context: BenchContext, path: PathId, options: SpendOptions): Promise<PathFigures> {
  const { users, funds, keys, concurrency } = options;
  const url = urlOf(context, path, 'wallet');
  // In send order: user 0 key 0 twice, user 0 key 1 twice, …, then user 1.
  const plan = users.flatMap((user) =>
    Array.from({ length: keys }, () => randomUUID()).flatMap((key) => Array.from({ length: SENDS_PER_KEY }, () => ({ user, key }))),
  );
  const client = createGraphQLClient(concurrency);
  const { value: burst, ...spent } = await measureCpu(context.probe, () =>
    runBurst(
      plan.length,
      concurrency,
      context.deadlineMs,
      (index) => {
        const { user, key } = plan[index] as (typeof plan)[number];
        return client.post(
          url,
          SPEND,
          { i: { amount: { amount: String(DEBIT), currencyCode: 'IRR' }, description: 'Bench spend', idempotencyKey: key } },
          user.token,
        );
      },
      (reply: Spent) => codeOf(reply) ?? (reply.data?.spend?.transaction?.id ? 'OK' : `HTTP_${reply.status}_NO_DATA`),
    ),
  ).finally(() => client.close());

  const transactionsByKey = new Map<string, Set<string>>();
  for (const sample of burst.samples) {
    const id = sample.reply?.data?.spend?.transaction?.id;
    const { key } = plan[sample.position] as (typeof plan)[number];
    if (id) transactionsByKey.set(key, new Set([...(transactionsByKey.get(key) ?? []), id]));
  }
  const keysOneTransaction = [...transactionsByKey.values()].filter((ids) => ids.size === 1).length;
  const owners = users.map((user) => user.id);
  const [ledger] = await context.stack.sql<{ debits: number; total: string; wrong_balances: number }[]>`
    select
      (select count(*)::int from wallet.ledger_entries l join wallet.wallets w on w.id = l.wallet_id
        where w.owner_id in ${context.stack.sql(owners)} and l.kind = 'DEBIT') as debits,
      (select coalesce(sum(l.amount), 0)::text from wallet.ledger_entries l join wallet.wallets w on w.id = l.wallet_id
        where w.owner_id in ${context.stack.sql(owners)} and l.kind = 'DEBIT') as total,
      (select count(*)::int from wallet.wallets w where w.owner_id in ${context.stack.sql(owners)} and w.balance <> ${funds - keys * DEBIT}) as wrong_balances`;
  const expectedKeys = users.length * keys;
  const ok = burst.samples.filter((sample) => sample.outcome === 'OK').length;
  const checks = [
    check(
      'every request was sent and answered',
      burst.unsent === 0 && burst.samples.length === plan.length,
      `${burst.samples.length} answered, ${burst.unsent} unsent`,
    ),
    check('every spend succeeded', ok === plan.length, `${ok} of ${plan.length}`),
    check('the requests of one key got one transaction', keysOneTransaction === expectedKeys, `${keysOneTransaction} of ${expectedKeys} keys`),
    check(
      'the ledger holds one debit per key and every balance is right',
      ledger?.debits === expectedKeys && ledger?.total === String(expectedKeys * DEBIT) && ledger?.wrong_balances === 0,
      `${ledger?.debits} debits, ${ledger?.total} IRR, ${ledger?.wrong_balances} wrong balances (expected ${expectedKeys}, ${expectedKeys * DEBIT})`,
    ),
  ];
  return { ...burstFigures('spend', path, concurrency, burst, spent, (code) => code === 'OK'), checks, exact: checks.every((item) => item.ok) };
}
