// `pnpm bench`: every scenario on every path, side by side in one run, on this machine.
// Starts the stack as `pnpm start` runs it (the embedded PostgreSQL, each service its own
// process) with an ES256 signing key, and Hive Gateway on the same supergraph and subgraphs;
// creates its users in bulk (set-up stays out of the figures); warms every path up; then
// runs the flash promotion, the wallet read and the spend through GiftPay's gateway, Hive
// Gateway, straight to the subgraph and (flash) the claim statement alone at the database,
// reading each process's CPU from /proc around each burst. Writes bench/results/latest.json,
// latest.md and latest.svg; exits non-zero when an outcome is not exact or a path fails.
//
// `pnpm bench --quick` (CI): the same code with tiny sizes, written to bench/results/quick.*.
// `pnpm bench --only <scenario>` (flash, walletRead, spend or shards): that scenario alone,
// written to bench/results/<scenario>.* (with --quick: quick-<scenario>.*), latest.* untouched.
// Overrides: BENCH_SLOTS, BENCH_USERS, BENCH_CONCURRENCY, BENCH_WARM_UP_SHARE.

import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type BenchContext, urlOf } from './lib/context.ts';
import { PATH_LABELS, type PathFigures, type PathId, SCENARIO_LABELS, type ScenarioId } from './lib/figures.ts';
import { createGraphQLClient } from './lib/load.ts';
import { type BenchRun, toMarkdown, toSvg } from './lib/report.ts';
import { type BenchUser, createUsers, fundWallets } from './lib/seed.ts';
import { type BenchStack, startBenchStack } from './lib/stack.ts';
import { type HiveGateway, startHiveGateway } from './peers/hive-gateway.ts';
import { flashAtDatabase, flashOverGraphQL, prepareCeilingDatabase } from './scenarios/flash.ts';
import { SHARD_COUNTS, shardsAtDatabase, shardsThroughGateway } from './scenarios/shards.ts';
import { spend } from './scenarios/spend.ts';
import { WALLET_READ, walletRead } from './scenarios/wallet-read.ts';

const quick = process.argv.includes('--quick');
const SCENARIO_IDS: readonly ScenarioId[] = ['flash', 'walletRead', 'spend', 'shards'];
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] as ScenarioId | undefined) : undefined;
if (onlyAt >= 0 && (only === undefined || !SCENARIO_IDS.includes(only))) {
  console.error(`--only takes one of ${SCENARIO_IDS.join(', ')}`);
  process.exit(2);
}
/** Whether this run measures `scenario`: every one, or the one of --only. */
const runs = (scenario: ScenarioId) => only === undefined || only === scenario;
const fromEnv = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

const SIZES = quick
  ? { slots: 50, users: 300, concurrency: 20, reads: 200, readUsers: 100, spenders: 50, deadlineSeconds: 60, settleSeconds: 45 }
  : { slots: 1000, users: 10_000, concurrency: 200, reads: 4000, readUsers: 2000, spenders: 1000, deadlineSeconds: 300, settleSeconds: 90 };
const settings = {
  ...SIZES,
  slots: fromEnv('BENCH_SLOTS', SIZES.slots),
  users: fromEnv('BENCH_USERS', SIZES.users),
  concurrency: fromEnv('BENCH_CONCURRENCY', SIZES.concurrency),
  spendKeysPerUser: 2,
  readEntriesPerWallet: 12,
};
/**
 * Warm-up: every path runs each scenario this much smaller first, not counted against the
 * targets (its bursts are kept in the report as the cold start). A quarter: at 4% the first
 * measured burst still ran on a cold stack (docs/performance.md, tuning log).
 */
const WARM_UP_SHARE = fromEnv('BENCH_WARM_UP_SHARE', quick ? 0.1 : 0.25);
const warm = (value: number) => Math.max(2, Math.round(value * WARM_UP_SHARE));

const GRAPHQL_PATHS: readonly PathId[] = ['giftpay', 'hive'];
const READ_AMOUNT = 1000;
const SPEND_FUNDS = 100_000;

const resultsDir = fileURLToPath(new URL('results/', import.meta.url));
const outputName = only ? `${quick ? 'quick-' : ''}${only}` : quick ? 'quick' : 'latest';
const startedAt = new Date();
const loadAverageBefore = loadavg();

let stack: BenchStack | null = null;
let hive: HiveGateway | null = null;
async function shutDown(): Promise<void> {
  await hive?.stop().catch(() => {});
  await stack?.stop().catch(() => {});
}
// Stopped (Ctrl-C, or a SIGTERM from a job runner): stop what it started, which would
// otherwise run on without it.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    console.log(`${signal}: stopping the stack`);
    void shutDown().finally(() => process.exit(code));
  });
}

function say(message: string): void {
  console.log(`[bench] ${message}`);
}

function summary(figures: PathFigures): string {
  const flash = figures.flash;
  const parts = [
    `${figures.requestsPerSecond} req/s`,
    `p50 ${figures.latencyMs.p50} ms, p99 ${figures.latencyMs.p99} ms`,
    flash
      ? `filled in ${flash.fillSeconds} s, winners p99 ${flash.winnersLatencyMs.p99} ms, ${flash.winnersAmongFirstN}/${flash.winners} among the first ${flash.slots}`
      : '',
    `CPU ${figures.cpuMsPerRequest.all} ms/request`,
    figures.exact
      ? 'exact'
      : `NOT EXACT: ${figures.checks
          .filter((item) => !item.ok)
          .map((item) => `${item.name} (${item.detail})`)
          .join('; ')}`,
  ];
  return `${SCENARIO_LABELS[figures.scenario]} · ${figures.label}: ${parts.filter(Boolean).join(', ')}`;
}

const results: PathFigures[] = [];
/** The warm-up bursts, in the order they ran: the stack's cold start. */
const warmUps: PathFigures[] = [];
const failures: string[] = [];

async function measured(run: () => Promise<PathFigures>, what: string): Promise<void> {
  try {
    const figures = await run();
    results.push(figures);
    say(summary(figures));
  } catch (error) {
    failures.push(`${what} failed: ${(error as Error).message}`);
    say(`${what} FAILED: ${(error as Error).stack ?? error}`);
  }
}

function commit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

try {
  say(
    `${quick ? 'quick' : 'full'} run on Node ${process.version}, ${cpus().length} CPUs, load average ${loadAverageBefore.map((value) => value.toFixed(2)).join(' ')}`,
  );
  say('starting the stack (embedded PostgreSQL, accounts, wallet, gift-cards, gateway)…');
  stack = await startBenchStack();
  const benchStack = stack;
  say(`stack ready: ${JSON.stringify(benchStack.pids())}, PostgreSQL pid ${benchStack.postgresPid}, pool ${benchStack.poolSize} per service`);
  // Hive Gateway only takes part in the scenarios that compare gateways.
  if (runs('flash') || runs('walletRead') || runs('spend')) {
    try {
      hive = await startHiveGateway(benchStack);
      say(`Hive Gateway ${hive.version} ready (pid ${hive.pid})`);
    } catch (error) {
      failures.push(`Hive Gateway could not start: ${(error as Error).message}`);
      say(`Hive Gateway could not start: ${(error as Error).message}`);
    }
  }
  const hivePid = hive?.pid;
  const gatewayPaths = GRAPHQL_PATHS.filter((path) => path !== 'hive' || hive);
  const flashPaths: PathId[] = [...gatewayPaths, 'direct'];

  say('set-up: users in bulk, tokens, wallets…');
  const setUpStarted = performance.now();
  const [admin] = await createUsers(benchStack, 'bench_admin', 1, ['admin', 'user']);
  const crowd = async (name: string, count: number) => createUsers(benchStack, name, count);
  const flashUsers = new Map<PathId, { warm: BenchUser[]; measured: BenchUser[] }>();
  for (const path of runs('flash') ? flashPaths : []) {
    flashUsers.set(path, { warm: await crowd(`bench_flash_warm_${path}`, warm(settings.users)), measured: await crowd(`bench_flash_${path}`, settings.users) });
  }
  // One crowd for every K: each K's card is new, so each user may win each once.
  const shardUsers = runs('shards')
    ? { warm: await crowd('bench_shards_warm', warm(settings.users)), measured: await crowd('bench_shards', settings.users) }
    : null;
  const readers = runs('walletRead') ? await crowd('bench_reader', settings.readUsers) : await crowd('bench_reader', 2);
  await fundWallets(benchStack.sql, readers, READ_AMOUNT, settings.readEntriesPerWallet);
  const spenders = new Map<PathId, { warm: BenchUser[]; measured: BenchUser[] }>();
  for (const path of runs('spend') ? flashPaths : []) {
    const group = { warm: await crowd(`bench_spend_warm_${path}`, warm(settings.spenders)), measured: await crowd(`bench_spend_${path}`, settings.spenders) };
    await fundWallets(benchStack.sql, [...group.warm, ...group.measured], SPEND_FUNDS, 1);
    spenders.set(path, group);
  }
  const ceilingUrl = await prepareCeilingDatabase(benchStack);
  say(`set-up done in ${((performance.now() - setUpStarted) / 1000).toFixed(1)} s`);

  const context: BenchContext = {
    stack: benchStack,
    admin: admin as BenchUser,
    gatewayUrls: { giftpay: benchStack.gatewayUrl, ...(hive ? { hive: hive.url } : {}) },
    deadlineMs: settings.deadlineSeconds * 1000,
    settleMs: settings.settleSeconds * 1000,
    probe: {
      roots: () => ({ ...benchStack.pids(), postgres: benchStack.postgresPid, ...(hivePid ? { 'hive-gateway': hivePid } : {}) }),
    },
  };
  const startsBefore = benchStack.starts();

  // Every gateway must verify the token itself: a forged one (a valid token's payload under
  // another user's signature) is refused, and the real one reaches the subgraphs.
  const [probe, other] = readers;
  if (probe && other) {
    const forged = `${other.token.split('.')[0]}.${probe.token.split('.')[1]}.${other.token.split('.')[2]}`;
    const client = createGraphQLClient(1);
    for (const path of gatewayPaths) {
      const url = urlOf(context, path, 'wallet');
      const refused = await client.post<{ me?: unknown }>(url, WALLET_READ, {}, forged);
      const served = await client.post<{ me?: { wallet?: unknown } }>(url, WALLET_READ, {}, probe.token);
      if (refused.data?.me || !refused.errors?.length) failures.push(`${PATH_LABELS[path]} accepted a forged token`);
      if (!served.data?.me?.wallet) failures.push(`${PATH_LABELS[path]} did not serve a signed-in wallet read: ${JSON.stringify(served.errors)}`);
    }
    client.close();
  }

  say('warming every path up (not measured)…');
  for (const path of flashPaths) {
    const users = flashUsers.get(path)?.warm ?? [];
    const spending = spenders.get(path)?.warm ?? [];
    const concurrency = Math.min(settings.concurrency, Math.max(users.length, spending.length, 1));
    const warmUpRuns = [
      ...(runs('flash') ? [() => flashOverGraphQL(context, path, { slots: warm(settings.slots), users, concurrency })] : []),
      ...(runs('spend') ? [() => spend(context, path, { users: spending, funds: SPEND_FUNDS, keys: settings.spendKeysPerUser, concurrency })] : []),
      ...(path === 'direct' || !runs('walletRead')
        ? []
        : [
            () =>
              walletRead(context, path, {
                users: readers,
                amount: READ_AMOUNT,
                entries: settings.readEntriesPerWallet,
                requests: warm(settings.reads),
                concurrency,
              }),
          ]),
    ];
    for (const warmUp of warmUpRuns) {
      try {
        const figures = await warmUp();
        warmUps.push(figures);
        if (!figures.exact) say(`warm-up not exact: ${summary(figures)}`);
      } catch (error) {
        say(`warm-up on ${PATH_LABELS[path]} failed: ${(error as Error).message}`);
      }
    }
  }
  if (shardUsers) {
    const shards = Math.max(...SHARD_COUNTS);
    const concurrency = Math.min(settings.concurrency, shardUsers.warm.length);
    const figures = await shardsThroughGateway(context, { slots: warm(settings.slots), users: shardUsers.warm, concurrency, shards });
    warmUps.push(figures);
    if (!figures.exact) say(`warm-up not exact: ${summary(figures)}`);
  }
  // The ceiling splits its card as the stack does a card of that size (GIFT_CARD_SLOT_SHARDS).
  const ceilingShards = benchStack.slotShardsFor(settings.slots);
  if (runs('flash') || runs('shards'))
    await flashAtDatabase(context, ceilingUrl, {
      slots: warm(settings.slots),
      users: warm(settings.users),
      concurrency: settings.concurrency,
      shards: benchStack.slotShardsFor(warm(settings.slots)),
    });

  say('measuring…');
  for (const path of runs('flash') ? flashPaths : []) {
    const users = (flashUsers.get(path) as { measured: BenchUser[] }).measured;
    await measured(() => flashOverGraphQL(context, path, { slots: settings.slots, users, concurrency: settings.concurrency }), `flash on ${PATH_LABELS[path]}`);
  }
  if (runs('flash')) {
    await measured(
      () => flashAtDatabase(context, ceilingUrl, { slots: settings.slots, users: settings.users, concurrency: settings.concurrency, shards: ceilingShards }),
      'flash at the database',
    );
  }
  for (const path of runs('walletRead') ? gatewayPaths : []) {
    await measured(
      () =>
        walletRead(context, path, {
          users: readers,
          amount: READ_AMOUNT,
          entries: settings.readEntriesPerWallet,
          requests: settings.reads,
          concurrency: settings.concurrency,
        }),
      `wallet read on ${PATH_LABELS[path]}`,
    );
  }
  for (const path of runs('spend') ? flashPaths : []) {
    const users = (spenders.get(path) as { measured: BenchUser[] }).measured;
    await measured(
      () => spend(context, path, { users, funds: SPEND_FUNDS, keys: settings.spendKeysPerUser, concurrency: settings.concurrency }),
      `spend on ${PATH_LABELS[path]}`,
    );
  }
  for (const shards of shardUsers ? SHARD_COUNTS : []) {
    await measured(
      () => shardsAtDatabase(context, ceilingUrl, { slots: settings.slots, users: settings.users, concurrency: settings.concurrency, shards }),
      `flash at the database, K = ${shards}`,
    );
  }
  for (const shards of shardUsers ? SHARD_COUNTS : []) {
    const users = shardUsers?.measured ?? [];
    await measured(
      () => shardsThroughGateway(context, { slots: settings.slots, users, concurrency: settings.concurrency, shards }),
      `flash through the gateway, K = ${shards}`,
    );
  }
  const startsAfter = benchStack.starts();
  for (const [name, count] of Object.entries(startsAfter)) {
    if (count !== startsBefore[name as keyof typeof startsBefore]) failures.push(`${name} was restarted during the bench (it crashed)`);
  }
} catch (error) {
  failures.push(`the bench could not run: ${(error as Error).message}`);
  say(`the bench could not run: ${(error as Error).stack ?? error}`);
} finally {
  await shutDown();
}

const run: BenchRun = {
  mode: quick ? 'quick' : 'full',
  startedAt: startedAt.toISOString(),
  durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
  machine: {
    node: process.version,
    nodePath: process.execPath,
    platform: `${platform()} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageBefore: loadAverageBefore.map((value) => Number(value.toFixed(2))),
    loadAverageAfter: loadavg().map((value) => Number(value.toFixed(2))),
  },
  commit: commit(),
  hiveGatewayVersion: hive?.version ?? null,
  settings: { ...settings, warmUpShare: WARM_UP_SHARE },
  results,
  warmUps,
  failures,
  exact: failures.length === 0 && results.length > 0 && results.every((figures) => figures.exact),
};
await mkdir(resultsDir, { recursive: true });
await writeFile(`${resultsDir}${outputName}.json`, `${JSON.stringify(run, null, 2)}\n`);
await writeFile(`${resultsDir}${outputName}.svg`, toSvg(run));
await writeFile(`${resultsDir}${outputName}.md`, toMarkdown(run, `${outputName}.svg`));
if (!quick && !only) {
  // Committed files (not the ignored ones of --only): laid out as `pnpm lint` wants them (JSON and Markdown tables).
  try {
    const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));
    execFileSync(biome, ['format', '--write', `${resultsDir}${outputName}.json`, `${resultsDir}${outputName}.md`], { stdio: 'ignore' });
  } catch (error) {
    say(`could not format the results with Biome: ${(error as Error).message}`);
  }
}
say(`wrote bench/results/${outputName}.json, .md and .svg in ${run.durationSeconds} s`);
for (const failure of failures) say(failure);
say(run.exact ? 'every outcome exact' : 'NOT EXACT or a path failed: see above');
process.exit(run.exact ? 0 : 1);
