// Hive Gateway (@graphql-hive/gateway, from the npm registry) as a process of its own, as its
// CLI runs it (one worker), in front of the bench stack's subgraphs.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@giftpay/embedded-db';
import { untilReady } from '../lib/ready.ts';
import type { BenchStack } from '../lib/stack.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface HiveGateway {
  readonly url: string;
  readonly pid: number;
  readonly version: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startHiveGateway(stack: BenchStack): Promise<HiveGateway> {
  // A devDependency of the root package, linked here by pnpm (its exports do not include package.json).
  const packageDir = join(root, 'node_modules', '@graphql-hive', 'gateway');
  const { version, bin } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(packageDir, bin['hive-gateway'] as string),
      'supergraph',
      'schema/supergraph.graphql',
      '--config-path',
      'bench/peers/hive-gateway.config.ts',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--fork',
      '1',
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        NODE_ENV: 'development',
        BENCH_ACCOUNTS_URL: stack.subgraphUrls.accounts,
        BENCH_WALLET_URL: stack.subgraphUrls.wallet,
        BENCH_GIFT_CARDS_URL: stack.subgraphUrls['gift-cards'],
        BENCH_JWT_ISSUER: stack.jwt.issuer,
        BENCH_JWT_AUDIENCE: stack.jwt.audience,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  try {
    await untilReady('Hive Gateway', `http://127.0.0.1:${port}/readiness`, child, 60_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}:\n${output.slice(-4000)}`);
  }
  return { url: `http://127.0.0.1:${port}/graphql`, pid: child.pid as number, version, output: () => output, stop };
}
