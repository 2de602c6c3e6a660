// `pnpm start` as a user runs it: the whole stack from one command on an embedded
// PostgreSQL, ready when it says so; when its supervisor is killed outright the services stop
// by themselves, and the next start, through pnpm, takes over the same data (and signing
// key) and stops cleanly on Ctrl-C. One scenario with two starts: each start of the stack is
// several seconds of CPU. SIGTERM's clean stop is in supervisor.e2e.test.ts, a restart after
// a clean stop in first-run.e2e.test.ts.

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GraphQLAnswer, isRunning, postGraphQL, type StackProcess, servicePids, stackProcessEnv, startStackProcess, waitUntil } from '@giftpay/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dataDir: string;
let env: Record<string, string>;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'giftpay-start-'));
  env = await stackProcessEnv(dataDir, { BOOTSTRAP_ADMIN_USERNAME: 'root_admin', BOOTSTRAP_ADMIN_PASSWORD: 'root-admin-password' });
});

afterAll(async () => {
  // A failed assertion must not leave a stack running: stop whatever is still up.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(started.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once('exit', done)) : null)));
  await rm(dataDir, { recursive: true, force: true });
});

async function start(options: { viaPnpm?: boolean } = {}): Promise<StackProcess> {
  const stack = await startStackProcess(env, options);
  started.push(stack.child);
  return stack;
}

function graphql<T>(query: string, token?: string): Promise<GraphQLAnswer<T>> {
  return postGraphQL<T>(`http://127.0.0.1:${env.GATEWAY_PORT}/graphql`, query, { token });
}

describe('pnpm start', () => {
  it('serves the stack; killed outright, its services stop; the next start, through pnpm, keeps data, keys and tokens and stops on Ctrl-C with exit 0', async () => {
    const first = await start();
    expect(first.output()).toContain(`GraphQL at http://localhost:${env.GATEWAY_PORT}/graphql`);
    const health = await fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/health`);
    expect(health.status).toBe(200);

    const signUp = await graphql<{ signUp: { token: string } }>(
      'mutation { signUp(input: { username: "persistent_pat", password: "a-long-enough-password" }) { token } }',
    );
    const token = signUp.data?.signUp.token as string;
    const admin = await graphql<{ logIn: { token: string; user: { roles: string[] } } }>(
      'mutation { logIn(input: { username: "root_admin", password: "root-admin-password" }) { token user { roles } } }',
    );
    expect(admin.data?.logIn.user.roles).toEqual(['user', 'admin']);
    const issued = await graphql<{ issueGiftCards: { giftCards: { code: string }[] } }>(
      'mutation { issueGiftCards(input: { value: { amount: "1000000", currencyCode: "IRR" } }) { giftCards { code } } }',
      admin.data?.logIn.token,
    );
    const code = issued.data?.issueGiftCards.giftCards[0]?.code;
    const activated = await graphql<{ activateGiftCard: { wallet: { balance: { amount: string } } } }>(
      `mutation { activateGiftCard(input: { code: "${code}" }) { wallet { balance { amount } } } }`,
      token,
    );
    expect(activated.data?.activateGiftCard.wallet.balance.amount).toBe('1000000');
    expect(existsSync(join(dataDir, 'secrets', 'jwt-signing-key.pem'))).toBe(true);

    // The supervisor dies with no chance to stop anything (an OOM kill, say).
    const pids = servicePids(first.output());
    expect(Object.keys(pids).sort()).toEqual(['accounts', 'gateway', 'gift-cards', 'wallet']);
    first.child.kill('SIGKILL');
    await first.exited;
    // The services notice their supervisor is gone (they check every second) and stop, each
    // within its own 10 s limit for a graceful stop: on a loaded machine that takes a while.
    // Every process must end, not only stop listening: with the supervisor gone their stdout
    // has no reader, and flushing the log into it at exit once hung a service for ever.
    const stillRunning = () => Object.entries(pids).filter(([, pid]) => isRunning(pid));
    await waitUntil('every service of the killed stack to exit', () => stillRunning().length === 0, { timeoutMs: 30_000, intervalMs: 200 }).catch(
      (error: Error) => {
        const left = stillRunning();
        for (const [, pid] of left) process.kill(pid, 'SIGKILL');
        throw new Error(`${error.message}; still running: ${JSON.stringify(Object.fromEntries(left))}`);
      },
    );
    await expect(fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/health`)).rejects.toThrow();

    // As a terminal does: `pnpm start` leads its own process group, and Ctrl-C signals all of it.
    // It takes over whatever the killed supervisor left behind (its PostgreSQL above all).
    const second = await start({ viaPnpm: true });
    // The same signing key and the same data: a token from before is still good, its balance there.
    // Right after a start, a service that has not fetched the signing keys yet may answer
    // SERVICE_UNAVAILABLE ("try again shortly"): asked again, as a client would.
    const me = await waitUntil(
      'the token from before the kill to be served',
      async () => {
        const answer = await graphql<{ me: { username: string; wallet: { balance: { amount: string } } } }>(
          '{ me { username wallet { balance { amount } } } }',
          token,
        );
        return answer.errors?.some((error) => error.extensions?.code === 'SERVICE_UNAVAILABLE') ? null : answer;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(me.data?.me, JSON.stringify(me.errors)).toEqual({ username: 'persistent_pat', wallet: { balance: { amount: '1000000' } } });

    const { child, exited } = second;
    // The output ends only when every process holding it (pnpm, start.ts, the services) has exited.
    const ended = Promise.all([new Promise((done) => child.stdout?.once('end', done)), new Promise((done) => child.stderr?.once('end', done))]);
    process.kill(-(child.pid as number), 'SIGINT');
    // As the docs say: exit status 0, not 130 (the shell pnpm runs the script in would report
    // the SIGINT it received, and pnpm would pass it on; `exec` in the script avoids that shell).
    expect(await exited).toBe(0);
    await ended;
    const output = second.output();
    expect(output).not.toContain('did not stop within');
    expect(output.slice(-1500), output.slice(-1500)).toMatch(/\[start\]\s+stopped/);
    await expect(fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/health`)).rejects.toThrow();
  });
});
