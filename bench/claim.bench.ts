// `pnpm bench:claim`: the hot-row choice, measured at the database. USERS claims race for
// SLOTS slots of one card (its own row, K = 1) over a pool of CONNECTIONS, four ways:
//   statement:   `select gift_cards.claim_slot(...)`, one statement; the card's row is locked
//                from its UPDATE to the commit, all inside PostgreSQL;
//   statements in batches: the claims gathered as gift-cards gathers them (natural batching,
//                two batches on their way, 50 at most) and sent as `gift_cards.claim_slots`,
//                one statement and one commit a batch (what GiftPay does);
//   transaction: BEGIN; INSERT redemption; UPDATE card; COMMIT from the client, so the lock
//                is also held across the client's round trip between UPDATE and COMMIT;
//   transaction, 2 ms pause: the same with the client 2 ms late to commit, as a saturated
//                event loop is.
// Settings: BENCH_SLOTS (1000), BENCH_USERS (5000), BENCH_CONNECTIONS (20).

import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Batcher, createBatcher } from '@giftpay/common/batching';
import { applyMigrations } from '@giftpay/common/db';
import { freePort, startEmbeddedPostgres } from '@giftpay/embedded-db';
import { GIFT_CARDS_MIGRATIONS } from '@giftpay/gift-cards/migrate';
import postgres from 'postgres';

const SLOTS = Number(process.env.BENCH_SLOTS ?? 1000);
const USERS = Number(process.env.BENCH_USERS ?? 5000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

const dir = await mkdtemp(join(tmpdir(), 'giftpay-claim-bench-'));
await chmod(dir, 0o755);
const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort(), persistent: false });
await server.ensureDatabase('bench');
await applyMigrations(server.urlFor('bench'), GIFT_CARDS_MIGRATIONS);
const sql = postgres(server.urlFor('bench'), { max: CONNECTIONS, onnotice: () => {} });

async function newCard(): Promise<string> {
  const [card] = await sql`insert into gift_cards.gift_cards (code_hash, last4, value_amount, currency_code, usage_limit, created_by)
    values (${randomUUID()}, 'BNCH', 1000, 'IRR', ${SLOTS}, 'bench') returning id`;
  return card?.id as string;
}

async function viaStatement(cardId: string, userId: string): Promise<boolean> {
  const [row] = await sql`select outcome from gift_cards.claim_slot(${cardId}::uuid, ${userId}, 30000)`;
  return row?.outcome === 'CLAIMED';
}

/** Each card's claims batched as gift-cards batches them (redemption.service.ts). */
const batchers = new Map<string, Batcher<string, boolean>>();
function viaBatches(cardId: string, userId: string): Promise<boolean> {
  let batcher = batchers.get(cardId);
  if (!batcher) {
    batcher = createBatcher<string, boolean>(
      async (userIds) => {
        const rows = await sql<{ outcome: string }[]>`
          select ord, outcome from gift_cards.claim_slots(${cardId}::uuid, ${userIds as string[]}::text[], 30000)`;
        return Promise.all(userIds.map((user, index) => (rows[index]?.outcome === 'RETRY' ? viaStatement(cardId, user) : rows[index]?.outcome === 'CLAIMED')));
      },
      { maxBatchSize: 50, maxInFlight: 2 },
    );
    batchers.set(cardId, batcher);
  }
  return batcher.load(userId);
}

async function viaTransaction(cardId: string, userId: string, clientPauseMs = 0): Promise<boolean> {
  try {
    return await sql.begin(async (tx) => {
      const inserted = await tx`insert into gift_cards.redemptions (gift_card_id, user_id, amount, currency_code, status)
        values (${cardId}, ${userId}, 1000, 'IRR', 'PENDING') on conflict do nothing returning id`;
      if (inserted.length === 0) return false;
      const updated = await tx`update gift_cards.gift_cards set redemption_count = redemption_count + 1
        where id = ${cardId} and redemption_count < usage_limit returning id`;
      if (updated.length === 0) throw new Error('used up');
      // A busy event loop answers late: the row stays locked meanwhile.
      if (clientPauseMs > 0) await new Promise((done) => setTimeout(done, clientPauseMs));
      return true;
    });
  } catch {
    return false;
  }
}

async function run(name: string, claim: (cardId: string, userId: string) => Promise<boolean>) {
  const cardId = await newCard();
  const users = Array.from({ length: USERS }, () => randomUUID());
  let next = 0;
  let claimed = 0;
  const latencies: number[] = [];
  const started = performance.now();
  let lastClaim = started;
  await Promise.all(
    Array.from({ length: CONNECTIONS * 5 }, async () => {
      while (next < users.length) {
        const user = users[next++] as string;
        const sent = performance.now();
        if (await claim(cardId, user)) {
          claimed += 1;
          lastClaim = performance.now();
        }
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const [count] = await sql`select redemption_count from gift_cards.gift_cards where id = ${cardId}`;
  return {
    name,
    claimed,
    exact: claimed === SLOTS && count?.redemption_count === SLOTS,
    seconds: Number(seconds.toFixed(2)),
    claimsPerSecond: Math.round(claimed / ((lastClaim - started) / 1000)),
    attemptsPerSecond: Math.round(USERS / seconds),
    p50Ms: Number((latencies[Math.floor(latencies.length / 2)] ?? 0).toFixed(1)),
    p99Ms: Number((latencies[Math.floor(latencies.length * 0.99)] ?? 0).toFixed(1)),
  };
}

try {
  // Each way twice, alternating, so neither profits from a warmer server.
  const results = [];
  for (let round = 0; round < 2; round += 1) {
    results.push(await run('statement', viaStatement));
    results.push(await run('statements in batches', viaBatches));
    results.push(await run('transaction', viaTransaction));
    results.push(await run('transaction, 2 ms pause', (cardId, userId) => viaTransaction(cardId, userId, 2)));
  }
  console.log(`${SLOTS} slots, ${USERS} users, ${CONNECTIONS} connections`);
  console.table(results);
  process.exitCode = results.every((result) => result.exact) ? 0 : 1;
} finally {
  await sql.end();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
