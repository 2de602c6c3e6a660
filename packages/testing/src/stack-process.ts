// The stack as `pnpm start` runs it, as a process of its own: for the tests of start-up and
// shutdown, and for the benchmarks, which must measure services in their own processes.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '@giftpay/embedded-db';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** An environment for scripts/start.ts: free ports, its own DATA_DIR, cheap password hashing, a bootstrap admin; never the caller's DATABASE_URL. */
export async function stackProcessEnv(dataDir: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const { DATABASE_URL: _own, ...inherited } = process.env;
  return {
    ...(inherited as Record<string, string>),
    DATA_DIR: dataDir,
    GATEWAY_PORT: String(await freePort()),
    ACCOUNTS_PORT: String(await freePort()),
    WALLET_PORT: String(await freePort()),
    GIFT_CARDS_PORT: String(await freePort()),
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    // Sign-up is never what these measure or test: the cheapest hashing the config accepts.
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    ...extra,
  };
}

export interface StackProcess {
  readonly child: ChildProcess;
  /** Everything the stack has printed so far. */
  output(): string;
  readonly exited: Promise<number | null>;
  /** The gateway's GraphQL URL. */
  readonly url: string;
}

/** Starts scripts/start.ts (or `pnpm start` in its own process group) and waits until it says it is ready. */
export async function startStackProcess(env: Record<string, string>, options: { viaPnpm?: boolean } = {}): Promise<StackProcess> {
  const child = options.viaPnpm
    ? spawn('pnpm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, ['scripts/start.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await new Promise<void>((ready, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('GiftPay is ready')) ready();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => fail(new Error(`the stack exited with ${code} before it was ready:\n${output}`)));
  });
  return { child, output: () => output, exited, url: `http://127.0.0.1:${env.GATEWAY_PORT}/graphql` };
}

/** The PIDs of the services a stack's supervisor says it started (`[start] wallet started (pid N)`), by name; a restart's later PID wins. */
export function servicePids(output: string): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const match of output.matchAll(/\[start\]\s+([a-z-]+) started \(pid (\d+)\)/g)) pids[match[1] as string] = Number(match[2]);
  return pids;
}

/**
 * Whether a process is still running. A zombie (exited, not yet reaped by whoever adopted it)
 * has stopped; so has a PID that no longer exists.
 */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The state is the first field after the command name, which is in parentheses.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
