// The wallet read: signed-in users asking for their balance and their last ten transactions
// (accounts resolves `me`, the wallet subgraph the rest), `concurrency` in flight. Every
// answer is checked against what the bench put in the wallets.

import { type BenchContext, codeOf, urlOf } from '../lib/context.ts';
import { burstFigures, check, measureCpu, type PathFigures, type PathId } from '../lib/figures.ts';
import { createGraphQLClient, type GraphQLReply, runBurst } from '../lib/load.ts';
import type { BenchUser } from '../lib/seed.ts';

export const WALLET_READ = 'query { me { wallet { balance { amount } transactions(first: 10) { edges { node { id amount { amount } } } } } } }';

type WalletRead = GraphQLReply<{
  me?: { wallet?: { balance?: { amount?: string }; transactions?: { edges?: { node?: { id?: string; amount?: { amount?: string } } }[] } } } | null;
}>;

export interface WalletReadOptions {
  /** Users whose wallets hold `entries` credits of `amount` each. */
  readonly users: readonly BenchUser[];
  readonly amount: number;
  readonly entries: number;
  readonly requests: number;
  readonly concurrency: number;
}

export async function walletRead(context: BenchContext, path: PathId, options: WalletReadOptions): Promise<PathFigures> {
  const { users, amount, entries, requests, concurrency } = options;
  const url = urlOf(context, path, 'wallet');
  const balance = String(amount * entries);
  const page = Math.min(10, entries);
  const outcome = (reply: WalletRead) => {
    const code = codeOf(reply);
    if (code) return code;
    const wallet = reply.data?.me?.wallet;
    const edges = wallet?.transactions?.edges ?? [];
    const right = wallet?.balance?.amount === balance && edges.length === page && edges.every((edge) => edge.node?.amount?.amount === String(amount));
    return right ? 'OK' : 'WRONG_ANSWER';
  };
  const client = createGraphQLClient(concurrency);
  // Users in turn, so a user's reads are `users.length` requests apart.
  const { value: burst, ...spent } = await measureCpu(context.probe, () =>
    runBurst(
      requests,
      concurrency,
      context.deadlineMs,
      (index) => client.post(url, WALLET_READ, {}, (users[index % users.length] as BenchUser).token),
      outcome,
    ),
  ).finally(() => client.close());
  const ok = burst.samples.filter((sample) => sample.outcome === 'OK').length;
  const checks = [
    check(
      'every request was sent and answered',
      burst.unsent === 0 && burst.samples.length === requests,
      `${burst.samples.length} answered, ${burst.unsent} unsent`,
    ),
    check('every answer holds the balance and the page of transactions the wallet has', ok === requests, `${ok} of ${requests} right`),
  ];
  return { ...burstFigures('walletRead', path, concurrency, burst, spent, (code) => code === 'OK'), checks, exact: checks.every((item) => item.ok) };
}
