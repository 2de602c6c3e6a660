// `pnpm bench:gateway-ab <dir A> <dir B>`: two builds of the gateway side by side over one
// stack, to see a change of a few percent that the flash's own runs cannot (their spread on
// this machine is about a fifth). The stack starts as `pnpm bench` starts it; a gateway process
// from each checkout (a `git worktree` with its own `pnpm install`) serves the same subgraphs,
// with the same settings. Both take bursts of refused activations of one used-up card (the
// nine in ten of a promotion), A and B alternately, in the order ABBA, each burst with users
// of its own, and each gateway's CPU a request is read from /proc around its bursts.
// Settings: BENCH_AB_ROUNDS (20), BENCH_AB_REQUESTS a burst (4,000), BENCH_AB_CONCURRENCY (100);
// BENCH_AB_NODE_ARGS_A and _B give one side's gateway options for node (say a V8 flag, with
// the same checkout on both sides).

import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '@giftpay/embedded-db';
import { cpuSnapshot, threadSnapshot } from './lib/cpu.ts';
import { countBy, createGraphQLClient, runBurst } from './lib/load.ts';
import { createUsers } from './lib/seed.ts';
import { startBenchStack } from './lib/stack.ts';

const [dirA, dirB] = process.argv.slice(2).map((dir) => resolve(dir));
if (!dirA || !dirB) {
  console.error('usage: pnpm bench:gateway-ab <checkout A> <checkout B>');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 20);
const REQUESTS = Number(process.env.BENCH_AB_REQUESTS ?? 4000);
const CONCURRENCY = Number(process.env.BENCH_AB_CONCURRENCY ?? 100);
const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } wallet { balance { amount } } } }';

type Reply = { data?: unknown; errors?: { extensions?: { code?: string } }[] };
const stack = await startBenchStack();
const children: ChildProcess[] = [];
try {
  const gateways: Record<'A' | 'B', { pid: number; url: string }> = {} as Record<'A' | 'B', { pid: number; url: string }>;
  for (const [name, dir] of [
    ['A', dirA],
    ['B', dirB],
  ] as const) {
    const port = await freePort();
    const nodeArgs = (process.env[`BENCH_AB_NODE_ARGS_${name}`] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, 'gateway/src/main.ts'], {
      cwd: dir,
      env: {
        ...stack.env,
        GATEWAY_PORT: String(port),
        ACCOUNTS_URL: stack.subgraphUrls.accounts,
        WALLET_URL: stack.subgraphUrls.wallet,
        GIFT_CARDS_URL: stack.subgraphUrls['gift-cards'],
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    gateways[name] = { pid: child.pid as number, url: `http://127.0.0.1:${port}` };
  }
  for (const gateway of Object.values(gateways)) {
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${gateway.url}/health`).then(
        (response) => response.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error(`the gateway at ${gateway.url} did not become ready`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  const [admin] = await createUsers(stack, 'ab_admin', 1, ['user', 'admin']);
  const users = await createUsers(stack, 'ab', 1 + (ROUNDS + 1) * 2 * REQUESTS);
  const client = createGraphQLClient(CONCURRENCY);
  const code = `AB-${Date.now()}`;
  const issued = await client.post<Reply>(
    `${stack.subgraphUrls['gift-cards']}/graphql`,
    'mutation ($i: IssueGiftCardsInput!) { issueGiftCards(input: $i) { giftCards { code } } }',
    { i: { value: { amount: '1000', currencyCode: 'IRR' }, usageLimit: 1, code } },
    admin?.token,
  );
  if (!issued.data) throw new Error(`the card could not be issued: ${JSON.stringify(issued.errors)}`);
  // The card's one slot goes to the first user: every activation after it is refused, USED_UP.
  await client.post<Reply>(`${gateways.A.url}/graphql`, ACTIVATE, { code }, users[0]?.token);
  let next = 1;
  const perRequest: Record<'A' | 'B', number[]> = { A: [], B: [] };
  const mainThread: Record<'A' | 'B', number[]> = { A: [], B: [] };
  // Round 0 warms both up and is not counted.
  for (let round = 0; round <= ROUNDS; round += 1) {
    for (const name of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const gateway = gateways[name];
      const first = next;
      next += REQUESTS;
      const before = cpuSnapshot({ gateway: gateway.pid });
      const threadsBefore = threadSnapshot(gateway.pid);
      const burst = await runBurst(
        REQUESTS,
        CONCURRENCY,
        120_000,
        (index) => client.post<Reply>(`${gateway.url}/graphql`, ACTIVATE, { code }, users[first + index]?.token),
        (reply) => reply.errors?.[0]?.extensions?.code ?? 'OK',
      );
      const after = cpuSnapshot({ gateway: gateway.pid });
      const threadsAfter = threadSnapshot(gateway.pid);
      const refused = burst.samples.filter((sample) => sample.outcome === 'GIFT_CARD_USED_UP').length;
      if (refused !== REQUESTS) {
        const outcomes = countBy(burst.samples, (sample) => sample.outcome);
        throw new Error(`${name}: ${refused} of ${REQUESTS} answered GIFT_CARD_USED_UP (${JSON.stringify(outcomes)})`);
      }
      const ms = ((after.gateway ?? 0) - (before.gateway ?? 0)) / REQUESTS;
      const mainMs = threadsBefore && threadsAfter ? (threadsAfter.main - threadsBefore.main) / REQUESTS : Number.NaN;
      if (round > 0) {
        perRequest[name].push(ms);
        mainThread[name].push(mainMs);
      }
      console.log(
        `${round === 0 ? 'warm-up' : `round ${round}`} ${name}: ${ms.toFixed(3)} ms of gateway CPU a request (${mainMs.toFixed(3)} on its main thread), ${Math.round(REQUESTS / burst.seconds)} requests/s`,
      );
    }
  }
  client.close();
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const differences = perRequest.B.map((b, index) => b - (perRequest.A[index] as number));
  const spread = Math.sqrt(differences.reduce((sum, d) => sum + (d - mean(differences)) ** 2, 0) / Math.max(1, differences.length - 1));
  console.log(
    `A ${mean(perRequest.A).toFixed(3)} ms, B ${mean(perRequest.B).toFixed(3)} ms a request (B/A ${(mean(perRequest.B) / mean(perRequest.A)).toFixed(3)}); ` +
      `B - A by round ${mean(differences).toFixed(3)} ± ${(spread / Math.sqrt(differences.length)).toFixed(3)} ms (standard error), B lower in ${differences.filter((d) => d < 0).length} of ${differences.length}; ` +
      `main thread A ${mean(mainThread.A).toFixed(3)} ms, B ${mean(mainThread.B).toFixed(3)} ms`,
  );
} finally {
  for (const child of children) child.kill('SIGTERM');
  await stack.stop();
}
