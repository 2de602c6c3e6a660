// The stack a bench measures: scripts/start.ts as its own process (every service a process,
// the embedded PostgreSQL), on free loopback ports and a fresh DATA_DIR, signing with an
// ES256 key the bench holds, so it can sign its users' tokens itself and a peer gateway whose
// JWT plugin cannot verify EdDSA can verify them too.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenSigner, generateSigningKeyPem, type TokenSigner } from '@giftpay/accounts/token-signer';
import { loadConfig as loadGiftCardsConfig, slotShardsFor } from '@giftpay/gift-cards/config';
import { type StackProcess, stackProcessEnv, startStackProcess } from '@giftpay/testing/stack-process';
import postgres from 'postgres';
import { childrenNamed } from './cpu.ts';

export const SERVICES = ['accounts', 'wallet', 'gift-cards', 'gateway'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface BenchStack {
  readonly env: Readonly<Record<string, string>>;
  readonly process: StackProcess;
  /** The GiftPay gateway's GraphQL URL. */
  readonly gatewayUrl: string;
  /** Base URLs (no /graphql) of the subgraphs. */
  readonly subgraphUrls: Readonly<Record<'accounts' | 'wallet' | 'gift-cards', string>>;
  readonly databaseUrl: string;
  /** The postmaster's pid (its backends are its children). */
  readonly postgresPid: number;
  /** The pool size each service opens (DB_POOL_MAX as gift-cards reads it). */
  readonly poolSize: number;
  /** K, the slot shards gift-cards gives a card of `slots` slots at issue (GIFT_CARD_SLOT_SHARDS). */
  slotShardsFor(slots: number): number;
  readonly signer: TokenSigner;
  readonly jwt: { readonly issuer: string; readonly audience: string };
  /** A connection pool of the bench's own, for set-up and checks (never inside a measured burst). */
  readonly sql: postgres.Sql;
  /** The current pid of each service, from the stack's "<name> started (pid N)" lines. */
  pids(): Record<ServiceName, number>;
  /** How many times each service has been started (more than once: it crashed and was restarted). */
  starts(): Record<ServiceName, number>;
  stop(): Promise<void>;
}

function servicePids(output: string): { pids: Record<string, number>; starts: Record<string, number> } {
  const pids: Record<string, number> = {};
  const starts: Record<string, number> = {};
  for (const match of output.matchAll(/(\S+) started \(pid (\d+)\)/g)) {
    const [, name, pid] = match;
    if (!name || !pid) continue;
    pids[name] = Number(pid);
    starts[name] = (starts[name] ?? 0) + 1;
  }
  return { pids, starts };
}

export async function startBenchStack(): Promise<BenchStack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'giftpay-bench-'));
  const privateKeyPem = generateSigningKeyPem('ES256');
  const env = await stackProcessEnv(dataDir, {
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    JWT_PRIVATE_KEY: privateKeyPem,
  });
  let stack: StackProcess;
  try {
    stack = await startStackProcess(env);
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const stopStack = async () => {
    if (stack.child.exitCode === null && stack.child.signalCode === null) {
      stack.child.kill('SIGINT');
      await Promise.race([stack.exited, new Promise((done) => setTimeout(done, 30_000))]);
      if (stack.child.exitCode === null && stack.child.signalCode === null) stack.child.kill('SIGKILL');
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const [postgresPid] = childrenNamed(stack.child.pid as number, 'postgres');
    if (!postgresPid) throw new Error('the embedded PostgreSQL was not found among the stack process children');
    const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${env.EMBEDDED_POSTGRES_PORT}/giftpay`;
    const giftCardsConfig = loadGiftCardsConfig({ ...env, DATABASE_URL: databaseUrl });
    const signer = await createTokenSigner({
      privateKeyPem,
      issuer: giftCardsConfig.jwt.issuer,
      audience: giftCardsConfig.jwt.audience,
      ttlSeconds: 3600,
    });
    const sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });
    return {
      env,
      process: stack,
      gatewayUrl: stack.url,
      subgraphUrls: {
        accounts: `http://127.0.0.1:${env.ACCOUNTS_PORT}`,
        wallet: `http://127.0.0.1:${env.WALLET_PORT}`,
        'gift-cards': `http://127.0.0.1:${env.GIFT_CARDS_PORT}`,
      },
      databaseUrl,
      postgresPid,
      poolSize: giftCardsConfig.dbPoolMax,
      slotShardsFor: (slots) => slotShardsFor(slots, giftCardsConfig.slotShards),
      signer,
      jwt: { issuer: giftCardsConfig.jwt.issuer, audience: giftCardsConfig.jwt.audience },
      sql,
      pids: () => servicePids(stack.output()).pids as Record<ServiceName, number>,
      starts: () => servicePids(stack.output()).starts as Record<ServiceName, number>,
      async stop() {
        await sql.end({ timeout: 5 }).catch(() => {});
        await stopStack();
      },
    };
  } catch (error) {
    await stopStack();
    throw error;
  }
}
