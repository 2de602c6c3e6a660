// The supervisor behind `pnpm start`: a service that dies is started again, with a back-off and
// a line in the log saying so, while the rest of the stack goes on serving; the stack stops
// only on Ctrl-C, or when a service cannot start (a configuration error, or failing again
// and again right after each start). The stack runs on a database of the test run's
// PostgreSQL (DATABASE_URL): the embedded one has tests of its own in start.e2e.test.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, healthStatus, type StackProcess, stackProcessEnv, startStackProcess, type TestDatabase, waitUntil } from '@giftpay/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const running: StackProcess[] = [];
const folders: string[] = [];
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterEach(async () => {
  for (const stack of running.splice(0)) {
    if (stack.child.exitCode === null && stack.child.signalCode === null) stack.child.kill('SIGTERM');
    await stack.exited;
  }
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function freshEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'giftpay-supervisor-'));
  folders.push(dataDir);
  return stackProcessEnv(dataDir, { DATABASE_URL: database.url, ...extra });
}

function pidOf(stack: StackProcess, service: string, occurrence = 0): number {
  const pids = [...stack.output().matchAll(new RegExp(`${service} started \\(pid (\\d+)\\)`, 'g'))].map((match) => Number(match[1]));
  const pid = pids[occurrence];
  if (pid === undefined) throw new Error(`no start number ${occurrence} of ${service} in:\n${stack.output()}`);
  return pid;
}

const gatewayOf = (env: Record<string, string>) => `http://127.0.0.1:${env.GATEWAY_PORT}`;
const SLOW = { timeoutMs: 60_000, intervalMs: 100 };

describe('the pnpm start supervisor', () => {
  it('restarts a service that was killed, says so, and the stack serves again without a restart of the others, then stops on SIGTERM with exit 0', async () => {
    const env = await freshEnv();
    const stack = await startStackProcess(env);
    running.push(stack);
    const walletPid = pidOf(stack, 'wallet');
    const gatewayPid = pidOf(stack, 'gateway');

    const killedAt = Date.now();
    process.kill(walletPid, 'SIGKILL');
    await waitUntil('the restart notice', () => /wallet exited \(SIGKILL\); restarting it in [\d.]+ s/.test(stack.output()), SLOW);
    await waitUntil('the wallet started again', () => [...stack.output().matchAll(/wallet started \(pid \d+\)/g)].length === 2, SLOW);
    expect(pidOf(stack, 'wallet', 1)).not.toBe(walletPid);
    await waitUntil('/health answering 200 again', async () => (await healthStatus(gatewayOf(env))) === 200, SLOW);
    console.info(`supervisor: the killed wallet was serving again ${Date.now() - killedAt} ms after the kill`);

    // The supervisor and the other services are the same processes as before.
    expect(stack.child.exitCode).toBeNull();
    expect(() => process.kill(gatewayPid, 0)).not.toThrow();
    expect(stack.output()).not.toContain('stopping the stack');

    // SIGTERM, as a service manager stops it: every service stopped, exit status 0.
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    expect(stack.output()).toMatch(/\[start\]\s+stopped/);
  });

  it('stops the whole stack, exiting 1, when a service cannot start because its configuration is invalid', async () => {
    const env = await freshEnv({ WALLET_CREDIT_TIMEOUT_MS: 'soon' });
    const stack = await startStackProcess(env).catch((error: Error) => error);
    expect(stack).toBeInstanceOf(Error);
    const message = (stack as Error).message;
    expect(message).toContain('Invalid configuration: WALLET_CREDIT_TIMEOUT_MS must be an integer');
    expect(message).toMatch(/gift-cards exited \(code 78\): its configuration is invalid/);
    expect(message).toContain('exited with 1 before it was ready');
  });
});
