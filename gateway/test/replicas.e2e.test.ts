// Two replicas of every subgraph, each a process of its own, behind HAProxy, with the gateway
// in front: a promotion burst during which one gift-cards replica and one wallet replica are
// killed outright. Claims stay exact, every credit lands once (the other replicas and the
// relay take over), and the burst's clients are answered with contract codes only.

import { CONTRACT_ERROR_CODES } from '@giftpay/common';
import {
  assertBooksBalanced,
  createTestDatabase,
  type ExtraGateway,
  ensureHaproxy,
  freePort,
  type GraphQLAnswer,
  type LoadBalancer,
  ledgerCreditsOf,
  postGraphQL,
  type ServiceProcess,
  type SubgraphName,
  sleep,
  startGateway,
  startLoadBalancer,
  startServiceProcess,
  type TestDatabase,
  testEnv,
  waitUntil,
} from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let database: TestDatabase;
let replicas: Record<SubgraphName, ServiceProcess[]>;
let balancer: LoadBalancer;
let gateway: ExtraGateway;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  ensureHaproxy();
  database = await createTestDatabase();
  env = testEnv(database.url, {
    DB_POOL_MAX: '5',
    // A claim whose process died is the relay's after a second; a missed first credit is retried at once.
    CREDIT_RELAY_LEASE_MS: '1000',
    CREDIT_RELAY_INTERVAL_MS: '200',
    CREDIT_RETRY_DELAYS_MS: '100,500,1500',
  });
  // Ports first, so HAProxy can front replicas that need its URLs to start.
  const names: SubgraphName[] = ['accounts', 'wallet', 'gift-cards'];
  const ports = {} as Record<SubgraphName, number[]>;
  for (const name of names) ports[name] = [await freePort(), await freePort()];
  balancer = await startLoadBalancer(Object.fromEntries(names.map((name) => [name, ports[name].map((port) => ({ url: `http://127.0.0.1:${port}` }))])));
  const balanced = { ...env, ACCOUNTS_URL: balancer.urls.accounts, WALLET_URL: balancer.urls.wallet, GIFT_CARDS_URL: balancer.urls['gift-cards'] };
  const start = (name: SubgraphName) =>
    Promise.all(ports[name].map((port, index) => startServiceProcess(name, balanced, { label: `${name}-${index + 1}`, port })));
  // accounts first: it publishes the signing keys the others fetch at start.
  const accounts = await start('accounts');
  const [wallet, giftCards] = await Promise.all([start('wallet'), start('gift-cards')]);
  replicas = { accounts, wallet, 'gift-cards': giftCards };
  await balancer.serving();
  gateway = await startGateway({
    ...env,
    ACCOUNTS_URL: balancer.urls.accounts,
    WALLET_URL: balancer.urls.wallet,
    GIFT_CARDS_URL: balancer.urls['gift-cards'],
  });
}, 180_000);

afterAll(async () => {
  await gateway?.close();
  await balancer?.close();
  await Promise.all(Object.values(replicas ?? {}).flatMap((list) => list.map((replica) => replica.stop())));
});

function graphql<T>(query: string, token?: string, variables: Record<string, unknown> = {}): Promise<GraphQLAnswer<T>> {
  return postGraphQL<T>(`${gateway.url}/graphql`, query, { token, variables });
}

const ACTIVATE = 'mutation ($code: String!) { activateGiftCard(input: { code: $code }) { redemption { status } } }';
const DEFINITE = new Set(['CLAIMED', 'GIFT_CARD_ALREADY_REDEEMED', 'GIFT_CARD_USED_UP']);

describe('a promotion burst across replicas, two of which are killed in the middle', () => {
  it('hands out exactly N slots, credits each once, and answers only with contract codes', async () => {
    // The services pick the same keys and secrets from env; a user signs up through the balancer.
    const admin = await graphql<{ logIn: { token: string } }>(
      `mutation { logIn(input: { username: "${env.BOOTSTRAP_ADMIN_USERNAME}", password: "${env.BOOTSTRAP_ADMIN_PASSWORD}" }) { token } }`,
    );
    const adminToken = admin.data?.logIn.token as string;
    const issued = await graphql<{ issueGiftCards: { giftCards: { code: string; giftCard: { id: string } }[] } }>(
      'mutation ($input: IssueGiftCardsInput!) { issueGiftCards(input: $input) { giftCards { code giftCard { id } } } }',
      adminToken,
      { input: { value: { amount: '900', currencyCode: 'IRR' }, usageLimit: 60 } },
    );
    const promo = issued.data?.issueGiftCards.giftCards[0];
    if (!promo) throw new Error(`issueGiftCards failed: ${JSON.stringify(issued.errors)}`);
    // Sixty slots for a hundred users in two waves: the second is held back until the kill
    // (a barrier), so part of the burst, with at least ten slots left for it, comes after.
    const users: string[] = [];
    const userIds: string[] = [];
    for (let start = 0; start < 100; start += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          graphql<{ signUp: { token: string; user: { id: string } } }>(
            `mutation { signUp(input: { username: "replica_${start + index}", password: "a-long-enough-password" }) { token user { id } } }`,
          ),
        ),
      );
      users.push(...batch.map((answer) => answer.data?.signUp.token as string));
      userIds.push(...batch.map((answer) => answer.data?.signUp.user.id as string));
    }

    const seen: string[] = [];
    let lastRefusal = 'none';
    const codes: string[] = [];
    let release: () => void = () => {};
    const barrier = new Promise<void>((done) => {
      release = done;
    });
    const burst = Promise.all(
      users.map(async (token, index) => {
        if (index >= 50) await barrier;
        for (let attempt = 0; attempt < 300; attempt += 1) {
          const answer = await graphql<{ activateGiftCard: { redemption: { status: string } } | null }>(ACTIVATE, token, { code: promo.code });
          const outcome = answer.data?.activateGiftCard?.redemption ? 'CLAIMED' : (answer.errors?.[0]?.extensions?.code ?? `HTTP ${answer.status}`);
          seen.push(outcome);
          if (outcome === 'UNAUTHENTICATED')
            lastRefusal = `${answer.errors?.[0]?.message} (from ${answer.errors?.[0]?.extensions?.serviceName ?? 'the gateway'})`;
          codes.push(...(answer.errors ?? []).map((error) => error.extensions?.code ?? 'none'));
          if (DEFINITE.has(outcome)) return;
          await sleep(100);
        }
        throw new Error(`a user never got a definite answer; the last ones: ${seen.slice(-6).join(', ')}; the last UNAUTHENTICATED said: ${lastRefusal}`);
      }),
    );
    // Let part of the burst through, then kill one replica of each of the two services that move money.
    await waitUntil('the first answers of the first wave', () => seen.length >= 20, { timeoutMs: 60_000, intervalMs: 10 });
    const [giftCardsVictim, walletVictim] = [replicas['gift-cards'][0] as ServiceProcess, replicas.wallet[0] as ServiceProcess];
    await Promise.all([giftCardsVictim.kill(), walletVictim.kill()]);
    const seenAtKill = seen.length;
    release();
    await burst;
    const tally: Record<string, number> = {};
    for (const outcome of seen) tally[outcome] = (tally[outcome] ?? 0) + 1;
    console.info(`replicas: answers ${JSON.stringify(tally)}`);

    // The fault happened mid-burst: both were killed outright, with answers before and after.
    expect(giftCardsVictim.child.signalCode).toBe('SIGKILL');
    expect(walletVictim.child.signalCode).toBe('SIGKILL');
    expect(seenAtKill).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(seenAtKill);
    expect(codes.filter((code) => !CONTRACT_ERROR_CODES.has(code))).toEqual([]);

    // Every claim credited exactly once, by whichever replica or relay got there.
    await waitUntil(
      'every claim to be credited',
      async () => {
        const [open] =
          await database.sql`select count(*)::int as n from gift_cards.redemptions where gift_card_id = ${promo.giftCard.id} and status <> 'CREDITED'`;
        return open?.n === 0;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const [claims] =
      await database.sql`select count(*)::int as n, count(distinct user_id)::int as users from gift_cards.redemptions where gift_card_id = ${promo.giftCard.id}`;
    expect(claims).toEqual({ n: 60, users: 60 });
    const [credits] = await database.sql`
      select count(*)::int as entries, count(distinct e.idempotency_key)::int as keys, coalesce(sum(e.amount), 0)::bigint as total
      from wallet.ledger_entries e join gift_cards.redemptions r on e.idempotency_key = 'gift-card-redemption:' || r.id
      where r.gift_card_id = ${promo.giftCard.id}`;
    expect({ entries: credits?.entries, keys: credits?.keys, total: BigInt(credits?.total) }).toEqual({ entries: 60, keys: 60, total: 54_000n });
    // Scoped by owner, not by key: a second credit sent under any other key shows here too.
    expect(await ledgerCreditsOf(database.sql, userIds)).toEqual({ credits: 60, total: 54_000n, owners: 60, mostPerOwner: 1, duplicateKeys: 0 });
    await assertBooksBalanced(database.sql);
    // The survivors are the same processes as at the start.
    for (const survivor of [replicas['gift-cards'][1], replicas.wallet[1], ...replicas.accounts]) expect(survivor?.child.exitCode).toBeNull();
  });
});
