// The stack as `pnpm start` runs it (every service its own process) on a PostgreSQL server of
// this test's own, while that server fails under a promotion burst: backends terminated again
// and again (what a failover, a restart or a proxy's idle timeout does), and the server
// stopped and started again. No service may crash or hang: clients get contract codes only,
// /health recovers by itself, every process is still the one that started, and once every
// user has had a definite answer the promotion is exact, every credit landed once.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACT_ERROR_CODES } from '@giftpay/common';
import { freePort, type RunningPostgres, startEmbeddedPostgres } from '@giftpay/embedded-db';
import {
  ADMIN_PASSWORD,
  ADMIN_USERNAME,
  assertBooksBalanced,
  type GraphQLAnswer,
  healthStatus,
  isRunning,
  ledgerCreditsOf,
  postGraphQL,
  type StackProcess,
  servicePids,
  sleep,
  stackProcessEnv,
  startStackProcess,
  timeUntil,
  waitUntil,
} from '@giftpay/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let folder: string;
let pgPort: number;
let server: RunningPostgres;
let stack: StackProcess;
let env: Record<string, string>;
let sql: postgres.Sql;
let adminToken: string;
let pids: Record<string, number>;

const SERVICES = ['accounts', 'wallet', 'gift-cards', 'gateway'] as const;

async function startServer(): Promise<RunningPostgres> {
  return startEmbeddedPostgres({ dataDir: join(folder, 'pg'), port: pgPort, persistent: true, ephemeralTuning: true });
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'giftpay-db-faults-'));
  pgPort = await freePort();
  server = await startServer();
  await server.ensureDatabase('giftpay');
  env = await stackProcessEnv(join(folder, 'data'), {
    DATABASE_URL: server.urlFor('giftpay'),
    BOOTSTRAP_ADMIN_USERNAME: ADMIN_USERNAME,
    BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    // Owed credits are picked up by the relay a second after their claim, not after 30 s.
    CREDIT_RELAY_LEASE_MS: '1000',
    CREDIT_RELAY_INTERVAL_MS: '200',
    LOG_LEVEL: 'warn',
  });
  stack = await startStackProcess(env);
  pids = servicePids(stack.output());
  expect(Object.keys(pids).sort()).toEqual([...SERVICES].sort());
  sql = postgres(server.urlFor('giftpay'), { max: 2, onnotice: () => {} });
  adminToken = (
    await graphql<{ logIn: { token: string } }>(`mutation { logIn(input: { username: "${ADMIN_USERNAME}", password: "${ADMIN_PASSWORD}" }) { token } }`)
  ).data?.logIn.token as string;
}, 120_000);

afterAll(async () => {
  await sql?.end({ timeout: 1 });
  if (stack && stack.child.exitCode === null) {
    stack.child.kill('SIGTERM');
    await stack.exited;
  }
  await server?.stop();
  await rm(folder, { recursive: true, force: true });
});

type Answer<T> = GraphQLAnswer<T>;

function graphql<T>(query: string, token?: string, variables: Record<string, unknown> = {}): Promise<Answer<T>> {
  return postGraphQL<T>(stack.url, query, { token, variables });
}

async function signUpMany(count: number, prefix: string): Promise<{ token: string; userId: string }[]> {
  const users: { token: string; userId: string }[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, index) =>
        graphql<{ signUp: { token: string; user: { id: string } } }>(
          `mutation { signUp(input: { username: "${prefix}_${start + index}", password: "a-long-enough-password" }) { token user { id } } }`,
        ),
      ),
    );
    for (const answer of batch) {
      if (!answer.data?.signUp) throw new Error(`signUp failed: ${JSON.stringify(answer.errors)}`);
      users.push({ token: answer.data.signUp.token, userId: answer.data.signUp.user.id });
    }
  }
  return users;
}

async function issuePromotion(amount: string, usageLimit: number): Promise<{ code: string; id: string }> {
  const answer = await graphql<{ issueGiftCards: { giftCards: { code: string; giftCard: { id: string } }[] } }>(
    'mutation ($input: IssueGiftCardsInput!) { issueGiftCards(input: $input) { giftCards { code giftCard { id } } } }',
    adminToken,
    { input: { value: { amount, currencyCode: 'IRR' }, usageLimit } },
  );
  const card = answer.data?.issueGiftCards.giftCards[0];
  if (!card) throw new Error(`issueGiftCards failed: ${JSON.stringify(answer.errors)}`);
  return { code: card.code, id: card.giftCard.id };
}

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } wallet { balance { amount } } } }';
type Activation = { activateGiftCard: { redemption: { status: string }; wallet: { balance: { amount: string } } | null } };
/** Answers after which the user knows where they stand; anything else (SERVICE_UNAVAILABLE) they send again. */
const DEFINITE = new Set(['CLAIMED', 'GIFT_CARD_ALREADY_REDEEMED', 'GIFT_CARD_USED_UP']);

function outcomeOf(answer: Answer<Activation>): string {
  if (answer.data?.activateGiftCard?.redemption) return 'CLAIMED';
  return answer.errors?.[0]?.extensions?.code ?? `HTTP ${answer.status}`;
}

/** Every user sends the code, then again after each answer that was not definite, until all know; `progress.settled` counts those who know. */
async function burstUntilEveryoneKnows(
  users: { token: string }[],
  code: string,
  seen: string[],
  progress = { settled: 0 },
  /** Each user starts this long after the one before (0: all at once). */
  staggerMs = 0,
): Promise<void> {
  await Promise.all(
    users.map(async (user, index) => {
      if (staggerMs > 0) await sleep(index * staggerMs);
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const answer = await graphql<Activation>(ACTIVATE, user.token, { code });
        const outcome = outcomeOf(answer);
        seen.push(outcome, ...(answer.errors ?? []).map((error) => error.extensions?.code ?? 'none'));
        if (DEFINITE.has(outcome)) {
          progress.settled += 1;
          return;
        }
        await sleep(100);
      }
      throw new Error('a user never got a definite answer');
    }),
  );
}

async function healthy(): Promise<boolean> {
  return (await healthStatus(`http://127.0.0.1:${env.GATEWAY_PORT}`, 3000)) === 200;
}

const SLOW = { timeoutMs: 60_000, intervalMs: 100 };

/** Every claim of this card credited exactly once, and exactly `slots` claims; `users` are all who tried. */
async function expectExactPromotion(cardId: string, slots: number, amount: bigint, users: readonly { userId: string }[]): Promise<void> {
  await waitUntil(
    'every claim to be credited',
    async () => {
      const [row] = await sql`select count(*) filter (where status <> 'CREDITED')::int as open from gift_cards.redemptions where gift_card_id = ${cardId}`;
      return row?.open === 0;
    },
    { ...SLOW, ignoreErrors: true },
  );
  const [claims] = await sql`select count(*)::int as n, count(distinct user_id)::int as users from gift_cards.redemptions where gift_card_id = ${cardId}`;
  expect(claims).toEqual({ n: slots, users: slots });
  const [card] = await sql`select redemption_count from gift_cards.gift_cards where id = ${cardId}`;
  expect(card?.redemption_count).toBe(slots);
  const [credits] = await sql`
    select count(*)::int as entries, count(distinct e.idempotency_key)::int as keys, coalesce(sum(e.amount), 0)::bigint as total
    from wallet.ledger_entries e join gift_cards.redemptions r on e.idempotency_key = 'gift-card-redemption:' || r.id
    where r.gift_card_id = ${cardId}`;
  expect({ entries: credits?.entries, keys: credits?.keys, total: BigInt(credits?.total) }).toEqual({
    entries: slots,
    keys: slots,
    total: amount * BigInt(slots),
  });
  // Scoped by owner, not by key: a second credit sent under any other key shows here too.
  expect(
    await ledgerCreditsOf(
      sql,
      users.map((user) => user.userId),
    ),
  ).toEqual({ credits: slots, total: amount * BigInt(slots), owners: slots, mostPerOwner: 1, duplicateKeys: 0 });
  // And each credit has its other side, through every fault: the books balance.
  await assertBooksBalanced(sql);
}

/** What the clients saw and how long recovery took, for the record (docs/operations.md quotes it). */
function report(fault: string, seen: string[], faults: number, healthyAfterMs: number, creditedAfterMs: number): void {
  const answers: Record<string, number> = {};
  for (const outcome of seen) answers[outcome] = (answers[outcome] ?? 0) + 1;
  console.info(
    `${fault} (${faults}): answers ${JSON.stringify(answers)}; healthy ${healthyAfterMs} ms after the burst, every credit landed ${creditedAfterMs} ms later`,
  );
}

function expectSameProcesses(): void {
  expect(stack.child.exitCode).toBeNull();
  expect(stack.output()).not.toMatch(/exited \(/);
  for (const name of SERVICES) expect(isRunning(pids[name] as number), `${name} is still the same process`).toBe(true);
}

function expectContractCodesOnly(seen: string[]): void {
  const codes = seen.filter((outcome) => outcome !== 'CLAIMED');
  const outside = codes.filter((code) => !CONTRACT_ERROR_CODES.has(code));
  // On failure, what the services logged as errors says which path let it through.
  const errors =
    outside.length === 0
      ? ''
      : stack
          .output()
          .split('\n')
          .filter((line) => /\b(ERROR|FATAL)\b/.test(line))
          .slice(-40)
          .join('\n');
  expect(outside, errors).toEqual([]);
}

describe('when the database fails under a promotion burst', () => {
  it('survives backends terminated again and again: no crash, contract codes only, healthy again by itself, and the promotion exact', async () => {
    // Thirty slots for seventy users: enough for the burst to outlast many terminations.
    const promo = await issuePromotion('700', 30);
    const users = await signUpMany(70, 'terminated');
    const seen: string[] = [];
    const progress = { settled: 0 };
    let terminated = 0;
    let settledAtFirstTermination = -1;
    let killing = true;
    const killer = (async () => {
      const admin = postgres(server.urlFor('giftpay'), { max: 1, onnotice: () => {} });
      try {
        while (killing) {
          const rows =
            await admin`select pg_terminate_backend(pid) as done from pg_stat_activity where application_name like 'giftpay-%' and pid <> pg_backend_pid()`;
          terminated += rows.filter((row) => row.done).length;
          if (terminated > 0 && settledAtFirstTermination < 0) settledAtFirstTermination = progress.settled;
          await sleep(150);
        }
      } finally {
        await admin.end({ timeout: 1 });
      }
    })();
    const burst = burstUntilEveryoneKnows(users, promo.code, seen, progress);
    // The fault lasts three seconds, backends terminated every 150 ms.
    await sleep(3000);
    killing = false;
    await killer;
    await burst;

    // The fault happened, many times, while users were still waiting for their answer.
    expect(terminated).toBeGreaterThan(10);
    expect(settledAtFirstTermination).toBeGreaterThanOrEqual(0);
    expect(settledAtFirstTermination).toBeLessThan(users.length);
    expectContractCodesOnly(seen);
    // Healthy again by itself: the wait gives up (and fails the test) if it never is. How long
    // it took goes in the report, not in an assertion.
    const recovery = await timeUntil('/health to answer 200', healthy, { ...SLOW, ignoreErrors: true });
    const settling = Date.now();
    await expectExactPromotion(promo.id, 30, 700n, users);
    report('backends terminated', seen, terminated, recovery, Date.now() - settling);
    expectSameProcesses();
  });

  it('survives PostgreSQL stopped and started again mid-burst: clients told SERVICE_UNAVAILABLE, then served, and the promotion exact', async () => {
    const promo = await issuePromotion('300', 25);
    const users = await signUpMany(60, 'restarted');
    const seen: string[] = [];
    const progress = { settled: 0 };
    // The users arrive over 1.5 s: stopping the server takes a moment, and 60 users sent at
    // once could all be answered within it (seen once in a loaded full run), leaving no one
    // for the outage to meet.
    const burst = burstUntilEveryoneKnows(users, promo.code, seen, progress, 25);
    // Stop the server once the first answers are back, while the rest of the burst waits.
    await waitUntil('the first answers of the burst', () => seen.length > 0, { intervalMs: 10 });
    await server.stop();
    const settledAtStop = progress.settled;
    expect(settledAtStop).toBeLessThan(users.length);
    // While it is down, a read is refused with the contract's code, not a hang or a crash.
    const down = await graphql<unknown>('{ me { wallet { balance { amount } } } }', users[0]?.token);
    expect(down.errors?.map((error) => error.extensions?.code)).toContain('SERVICE_UNAVAILABLE');
    expect((await fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/health`)).status).toBe(503);
    // Down for a second, then started again under the burst's retries.
    await sleep(1000);
    server = await startServer();
    await burst;

    expect(seen).toContain('SERVICE_UNAVAILABLE');
    expectContractCodesOnly(seen);
    const recovery = await timeUntil('/health to answer 200', healthy, { ...SLOW, ignoreErrors: true });
    const settling = Date.now();
    await expectExactPromotion(promo.id, 25, 300n, users);
    report('PostgreSQL restarted', seen, 1, recovery, Date.now() - settling);
    expectSameProcesses();

    // And an ordinary burst afterwards is served as usual.
    const after = await issuePromotion('5', 10);
    const fresh = await signUpMany(20, 'after_restart');
    const answers = await Promise.all(fresh.map((user) => graphql<Activation>(ACTIVATE, user.token, { code: after.code })));
    expect(answers.filter((answer) => answer.data?.activateGiftCard?.redemption.status === 'CREDITED')).toHaveLength(10);
    expect(answers.filter((answer) => answer.errors?.[0]?.extensions?.code === 'GIFT_CARD_USED_UP')).toHaveLength(10);
  });
});
