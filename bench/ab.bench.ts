// `pnpm bench:ab <dir A> <dir B>`: two builds of one service side by side over one stack, to
// see a change of a few percent that the flash's own runs cannot (their spread on this machine
// is about a fifth). The stack starts as `pnpm bench` starts it; a process of the service from
// each checkout (a `git worktree` with its own `pnpm install`) runs beside the stack's, with
// the same settings. Both take bursts, A and B alternately, in the order ABBA, and each one's
// CPU a request is read from /proc around its bursts (its main thread's too).
//
// BENCH_AB_SERVICE picks the service and what it is sent:
// - gateway (the default): refused activations of one used-up card, the nine in ten of a
//   promotion, each burst with users of its own;
// - gift-cards: the same, straight to two gift-cards replicas on the stack's database, with
//   the selection the gateway sends it on the flash;
// - wallet: the bench's wallet read (balance and ten transactions), straight to two wallet
//   replicas, over users whose wallets hold twelve entries.
// Settings: BENCH_AB_ROUNDS (20), BENCH_AB_REQUESTS a burst (4,000), BENCH_AB_CONCURRENCY (100);
// BENCH_AB_NODE_ARGS_A and _B give one side's process options for node (say a V8 flag, with
// the same checkout on both sides).

import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '@giftpay/embedded-db';
import { codeOf } from './lib/context.ts';
import { cpuSnapshot, threadSnapshot } from './lib/cpu.ts';
import { countBy, createGraphQLClient, type GraphQLClient, runBurst } from './lib/load.ts';
import { untilReady } from './lib/ready.ts';
import { type BenchUser, createUsers, fundWallets } from './lib/seed.ts';
import { type BenchStack, startBenchStack } from './lib/stack.ts';
import { issuePromotion } from './scenarios/flash.ts';
import { WALLET_READ } from './scenarios/wallet-read.ts';

const [dirA, dirB] = process.argv.slice(2).map((dir) => resolve(dir));
if (!dirA || !dirB) {
  console.error('usage: pnpm bench:ab <checkout A> <checkout B>   (BENCH_AB_SERVICE=gateway, gift-cards or wallet)');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 20);
const REQUESTS = Number(process.env.BENCH_AB_REQUESTS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_AB_CONCURRENCY ?? 100);
const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } wallet { balance { amount } } } }';
const WALLET_ENTRIES = 12;

/** The requests of the bursts. */
interface Workload {
  /** Sends the request of this index among all those sent, and says its outcome (an error code, OK, or WRONG_ANSWER). */
  send(client: GraphQLClient, url: string, index: number): Promise<string>;
  /** The outcome every request of a burst must have. */
  readonly expected: string;
}

interface Service {
  readonly script: string;
  env(stack: BenchStack, port: number): Record<string, string>;
  /** Sets up what the bursts need (users, a card, wallets), once. */
  prepare(stack: BenchStack, client: GraphQLClient, urlA: string): Promise<Workload>;
}

/** Refused activations of a card whose one slot is gone: USED_UP for every user after the first. */
async function refusedActivations(stack: BenchStack, client: GraphQLClient, urlA: string): Promise<Workload> {
  const [admin] = await createUsers(stack, 'ab_admin', 1, ['user', 'admin']);
  const users = await createUsers(stack, 'ab', 1 + (ROUNDS + 1) * 2 * REQUESTS);
  const { code } = await issuePromotion(`${stack.subgraphUrls['gift-cards']}/graphql`, (admin as BenchUser).token, 1);
  await client.post(urlA, ACTIVATE, { code }, users[0]?.token);
  return {
    // Each request a user of its own: the first user took the slot.
    send: async (burstClient, url, index) => codeOf(await burstClient.post(url, ACTIVATE, { code }, users[1 + index]?.token)) ?? 'OK',
    expected: 'GIFT_CARD_USED_UP',
  };
}

const SERVICES: Readonly<Record<string, Service>> = {
  gateway: {
    script: 'gateway/src/main.ts',
    env: (_, port) => ({ GATEWAY_PORT: String(port) }),
    prepare: refusedActivations,
  },
  'gift-cards': {
    script: 'subgraphs/gift-cards/src/main.ts',
    env: (stack, port) => ({ GIFT_CARDS_PORT: String(port), DATABASE_URL: stack.databaseUrl }),
    prepare: refusedActivations,
  },
  wallet: {
    script: 'subgraphs/wallet/src/main.ts',
    env: (stack, port) => ({ WALLET_PORT: String(port), DATABASE_URL: stack.databaseUrl }),
    async prepare(stack) {
      const users: BenchUser[] = await createUsers(stack, 'ab_reader', 2_000);
      await fundWallets(stack.sql, users, 1_000, WALLET_ENTRIES);
      return {
        async send(burstClient, url, index) {
          const reply = await burstClient.post<{ me?: { wallet?: { transactions?: { edges?: unknown[] } } } }>(
            url,
            WALLET_READ,
            {},
            (users[index % users.length] as BenchUser).token,
          );
          return codeOf(reply) ?? (reply.data?.me?.wallet?.transactions?.edges?.length === 10 ? 'OK' : 'WRONG_ANSWER');
        },
        expected: 'OK',
      };
    },
  },
};

const SERVICE_NAME = process.env.BENCH_AB_SERVICE ?? 'gateway';
const service = SERVICES[SERVICE_NAME];
if (!service) {
  console.error(`BENCH_AB_SERVICE is one of ${Object.keys(SERVICES).join(', ')}, not ${SERVICE_NAME}`);
  process.exit(2);
}

const stack = await startBenchStack();
const children: ChildProcess[] = [];
try {
  const sides = {} as Record<'A' | 'B', { pid: number; url: string; child: ChildProcess }>;
  for (const [name, dir] of [
    ['A', dirA],
    ['B', dirB],
  ] as const) {
    const port = await freePort();
    const nodeArgs = (process.env[`BENCH_AB_NODE_ARGS_${name}`] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, service.script], {
      cwd: dir,
      env: {
        ...stack.env,
        ACCOUNTS_URL: stack.subgraphUrls.accounts,
        WALLET_URL: stack.subgraphUrls.wallet,
        GIFT_CARDS_URL: stack.subgraphUrls['gift-cards'],
        ...service.env(stack, port),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    sides[name] = { pid: child.pid as number, url: `http://127.0.0.1:${port}`, child };
  }
  for (const side of Object.values(sides)) await untilReady(`the ${SERVICE_NAME} at ${side.url}`, `${side.url}/health`, side.child, 30_000);
  const client = createGraphQLClient(CONCURRENCY);
  const workload = await service.prepare(stack, client, `${sides.A.url}/graphql`);
  let next = 0;
  const perRequest: Record<'A' | 'B', number[]> = { A: [], B: [] };
  const mainThread: Record<'A' | 'B', number[]> = { A: [], B: [] };
  // Round 0 warms both up and is not counted.
  for (let round = 0; round <= ROUNDS; round += 1) {
    for (const name of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const side = sides[name];
      const first = next;
      next += REQUESTS;
      // Connections of its own for each burst, as `pnpm bench` does: a keep-alive connection left
      // idle while the other side took its burst may be closed by the server as it is reused.
      const burstClient = createGraphQLClient(CONCURRENCY);
      const before = cpuSnapshot({ service: side.pid });
      const threadsBefore = threadSnapshot(side.pid);
      const burst = await runBurst(
        REQUESTS,
        CONCURRENCY,
        120_000,
        (index) => workload.send(burstClient, `${side.url}/graphql`, first + index),
        (outcome) => outcome,
      );
      const after = cpuSnapshot({ service: side.pid });
      burstClient.close();
      const threadsAfter = threadSnapshot(side.pid);
      const answered = burst.samples.filter((sample) => sample.outcome === workload.expected).length;
      if (answered !== REQUESTS) {
        const outcomes = countBy(burst.samples, (sample) => sample.outcome);
        throw new Error(`${name}: ${answered} of ${REQUESTS} answered ${workload.expected} (${JSON.stringify(outcomes)})`);
      }
      const ms = ((after.service ?? 0) - (before.service ?? 0)) / REQUESTS;
      const mainMs = threadsBefore && threadsAfter ? (threadsAfter.main - threadsBefore.main) / REQUESTS : Number.NaN;
      if (round > 0) {
        perRequest[name].push(ms);
        mainThread[name].push(mainMs);
      }
      console.log(
        `${round === 0 ? 'warm-up' : `round ${round}`} ${name}: ${ms.toFixed(3)} ms of ${SERVICE_NAME} CPU a request (${mainMs.toFixed(3)} on its main thread), ${Math.round(REQUESTS / burst.seconds)} requests/s`,
      );
    }
  }
  client.close();
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const differences = perRequest.B.map((b, index) => b - (perRequest.A[index] as number));
  const spread = Math.sqrt(differences.reduce((sum, d) => sum + (d - mean(differences)) ** 2, 0) / Math.max(1, differences.length - 1));
  console.log(
    `${SERVICE_NAME}: A ${mean(perRequest.A).toFixed(3)} ms, B ${mean(perRequest.B).toFixed(3)} ms a request (B/A ${(mean(perRequest.B) / mean(perRequest.A)).toFixed(3)}); ` +
      `B - A by round ${mean(differences).toFixed(3)} ± ${(spread / Math.sqrt(differences.length)).toFixed(3)} ms (standard error), B lower in ${differences.filter((d) => d < 0).length} of ${differences.length}; ` +
      `main thread A ${mean(mainThread.A).toFixed(3)} ms, B ${mean(mainThread.B).toFixed(3)} ms`,
  );
} finally {
  for (const child of children) child.kill('SIGTERM');
  await stack.stop();
}
