// `pnpm bench`: a promotion of SLOTS slots hit by USERS users at once, through the gateway,
// on the real stack (every service its own process, as `pnpm start` runs it, on a fresh
// embedded PostgreSQL). Reports redemptions per second and latency percentiles, and checks
// the outcome is exact. Settings: BENCH_SLOTS (1000), BENCH_USERS (5000),
// BENCH_CONCURRENCY (requests in flight, 500).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StackProcess, stackProcessEnv, startStackProcess } from '@giftpay/testing/stack-process';
import postgres from 'postgres';

const SLOTS = Number(process.env.BENCH_SLOTS ?? 1000);
const USERS = Number(process.env.BENCH_USERS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 500);

interface Sample {
  readonly ms: number;
  readonly outcome: string;
}

async function startStack(): Promise<{ url: string; child: StackProcess['child']; dataDir: string; databaseUrl: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'giftpay-bench-'));
  const env = await stackProcessEnv(dataDir, { LOG_LEVEL: 'warn', BOOTSTRAP_ADMIN_USERNAME: 'bench_admin', BOOTSTRAP_ADMIN_PASSWORD: 'bench-admin-password' });
  const stack = await startStackProcess(env);
  return { url: stack.url, child: stack.child, dataDir, databaseUrl: `postgres://postgres:postgres@127.0.0.1:${env.EMBEDDED_POSTGRES_PORT}/giftpay` };
}

/** Waits until every claim is credited, then how long each took from its claim to its credit. */
async function creditDelays(databaseUrl: string): Promise<{ pendingAfterSeconds: number; delaysMs: number[] }> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const started = performance.now();
    for (;;) {
      const [row] = await sql`select count(*)::int as n from gift_cards.redemptions where status = 'PENDING'`;
      if (row?.n === 0 || performance.now() - started > 120_000) break;
      await new Promise((done) => setTimeout(done, 200));
    }
    const rows = await sql`select extract(epoch from (credited_at - created_at)) * 1000 as ms from gift_cards.redemptions where status = 'CREDITED'`;
    return { pendingAfterSeconds: (performance.now() - started) / 1000, delaysMs: rows.map((row) => Number(row.ms)).sort((a, b) => a - b) };
  } finally {
    await sql.end();
  }
}

async function graphql<T>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<{ data?: T; errors?: { extensions?: { code?: string } }[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as never;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index] as T);
      }
    }),
  );
  return results;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const stack = await startStack();
try {
  const admin = await graphql<{ logIn: { token: string } }>(stack.url, 'mutation ($i: LogInInput!) { logIn(input: $i) { token } }', {
    i: { username: 'bench_admin', password: 'bench-admin-password' },
  });
  const adminToken = admin.data?.logIn.token as string;
  const issued = await graphql<{ issueGiftCards: { giftCards: { code: string }[] } }>(
    stack.url,
    'mutation ($i: IssueGiftCardsInput!) { issueGiftCards(input: $i) { giftCards { code } } }',
    { i: { value: { amount: '1000000', currencyCode: 'IRR' }, usageLimit: SLOTS, code: 'BENCH-PROMO-2026' } },
    adminToken,
  );
  const code = issued.data?.issueGiftCards.giftCards[0]?.code as string;

  const signUpStarted = performance.now();
  const tokens = await pool(
    Array.from({ length: USERS }, (_, index) => index),
    50,
    async (index) => {
      const result = await graphql<{ signUp: { token: string } }>(stack.url, 'mutation ($i: SignUpInput!) { signUp(input: $i) { token } }', {
        i: { username: `bench_user_${index}`, password: 'bench-user-password' },
      });
      if (!result.data) throw new Error(`sign-up failed: ${JSON.stringify(result.errors)}`);
      return result.data.signUp.token;
    },
  );
  console.log(`set-up: ${USERS} users signed up in ${((performance.now() - signUpStarted) / 1000).toFixed(1)} s`);

  const started = performance.now();
  let lastClaimAt = started;
  const samples = await pool(tokens, CONCURRENCY, async (token): Promise<Sample> => {
    const sent = performance.now();
    const result = await graphql<{ activateGiftCard: { redemption: { status: string } } }>(
      stack.url,
      'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } wallet { balance { amount } } } }',
      { code },
      token,
    );
    const done = performance.now();
    const outcome = result.data?.activateGiftCard.redemption.status ?? result.errors?.[0]?.extensions?.code ?? 'UNKNOWN';
    if (result.data) lastClaimAt = Math.max(lastClaimAt, done);
    return { ms: done - sent, outcome };
  });
  const elapsed = (performance.now() - started) / 1000;

  const counts: Record<string, number> = {};
  for (const sample of samples) counts[sample.outcome] = (counts[sample.outcome] ?? 0) + 1;
  const all = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const claims = samples.filter((sample) => sample.outcome === 'CREDITED' || sample.outcome === 'PENDING');
  const claimLatency = claims.map((sample) => sample.ms).sort((a, b) => a - b);
  const report = {
    slots: SLOTS,
    users: USERS,
    concurrency: CONCURRENCY,
    outcomes: counts,
    seconds: Number(elapsed.toFixed(2)),
    requestsPerSecond: Math.round(USERS / elapsed),
    redemptionsPerSecond: Math.round(claims.length / ((lastClaimAt - started) / 1000)),
    latencyMs: {
      p50: Math.round(percentile(all, 50)),
      p95: Math.round(percentile(all, 95)),
      p99: Math.round(percentile(all, 99)),
      max: Math.round(all.at(-1) ?? 0),
    },
    claimLatencyMs: { p50: Math.round(percentile(claimLatency, 50)), p99: Math.round(percentile(claimLatency, 99)) },
    // Winners told PENDING (the credit missed its first try) rather than CREDITED.
    pendingAtAnswer: Number(((counts.PENDING ?? 0) / Math.max(1, claims.length)).toFixed(3)),
    claimToCreditMs: {} as Record<string, number>,
  };
  const credits = await creditDelays(stack.databaseUrl);
  report.claimToCreditMs = {
    p50: Math.round(percentile(credits.delaysMs, 50)),
    p99: Math.round(percentile(credits.delaysMs, 99)),
    max: Math.round(credits.delaysMs.at(-1) ?? 0),
    credited: credits.delaysMs.length,
  };
  console.log(JSON.stringify(report, null, 2));
  const exact = claims.length === SLOTS && (counts.GIFT_CARD_USED_UP ?? 0) === USERS - SLOTS && credits.delaysMs.length === SLOTS;
  console.log(exact ? `exact: ${SLOTS} claims, ${USERS - SLOTS} GIFT_CARD_USED_UP` : 'NOT EXACT: see outcomes above');
  process.exitCode = exact ? 0 : 1;
} finally {
  stack.child.kill('SIGINT');
  await new Promise((done) => stack.child.once('exit', done));
  await rm(stack.dataDir, { recursive: true, force: true });
}
