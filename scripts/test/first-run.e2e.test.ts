// The README's first run, as a newcomer does it: a plain `pnpm start` (development, no
// BOOTSTRAP_ADMIN_*) has an admin whose password it prints once and keeps under DATA_DIR, so
// cards can be issued at once; a restart neither prints nor changes it. A bootstrap password
// under 10 characters stops the stack with one line naming the variable and the rule.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addressNobodyListensOn,
  createTestDatabase,
  type StackProcess,
  stackProcessEnv,
  startStackProcess,
  type TestDatabase,
  waitUntil,
} from '@giftpay/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const started: ChildProcess[] = [];
const dataDirs: string[] = [];
// The stack runs on a database of this file's own rather than the embedded PostgreSQL (whose
// start, tested in start.e2e.test.ts, is slow on a loaded machine): the admin lives in the database.
const databases: TestDatabase[] = [];
/** Two starts of the whole stack, each up to 120 s on a loaded machine. */
const STACK_TEST_TIMEOUT_MS = 300_000;

beforeAll(async () => {
  for (let index = 0; index < 5; index += 1) databases.push(await createTestDatabase());
});

afterEach(async () => {
  // A failed assertion must not leave a stack running: stop whatever is still up.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(started.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once('exit', done)) : null)));
  started.length = 0;
  await Promise.all(dataDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A newcomer's environment: development, no bootstrap admin, a DATA_DIR and ports of its own. */
async function newcomerEnv(database: TestDatabase, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'giftpay-first-run-'));
  dataDirs.push(dataDir);
  return stackProcessEnv(dataDir, {
    NODE_ENV: 'development',
    DATABASE_URL: database.url,
    BOOTSTRAP_ADMIN_USERNAME: '',
    BOOTSTRAP_ADMIN_PASSWORD: '',
    ...extra,
  });
}

async function start(env: Record<string, string>): Promise<StackProcess> {
  const stack = await startStackProcess(env);
  started.push(stack.child);
  return stack;
}

/** Ctrl-C to the stack, and its exit. */
async function interrupt(stack: StackProcess): Promise<number | null> {
  stack.child.kill('SIGINT');
  return stack.exited;
}

async function graphql<T>(stack: StackProcess, query: string, token?: string): Promise<{ data?: T; errors?: { extensions?: { code?: string } }[] }> {
  const response = await fetch(stack.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as never;
}

/**
 * Issues one card as the admin. On a loaded machine the first call to a subgraph that has just
 * started may time out at the gateway: SERVICE_UNAVAILABLE says to try again shortly, and this
 * does, as a client would; any other answer (FORBIDDEN above all) is returned at once.
 */
async function issueCard(stack: StackProcess, token: string) {
  const issue = 'mutation { issueGiftCards(input: { value: { amount: "1000000", currencyCode: "IRR" } }) { giftCards { code } } }';
  let answer = await graphql<{ issueGiftCards: { giftCards: { code: string }[] } }>(stack, issue, token);
  for (let attempt = 1; attempt < 5 && answer.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE'; attempt += 1) {
    await new Promise((done) => setTimeout(done, 2000));
    answer = await graphql<{ issueGiftCards: { giftCards: { code: string }[] } }>(stack, issue, token);
  }
  return answer;
}

describe('the first run', () => {
  it(
    'has an admin whose password is printed once and kept under DATA_DIR, which issues a card; a restart keeps it unprinted',
    async () => {
      const env = await newcomerEnv(databases[0] as TestDatabase);
      const passwordFile = join(env.DATA_DIR as string, 'secrets', 'admin-password');
      const first = await start(env);
      // accounts creates the admin before it listens, and start.ts prints it once the stack is ready.
      const password = (await readFile(passwordFile, 'utf8')).trim();
      expect((await stat(passwordFile)).mode & 0o777).toBe(0o600);
      // The notice follows the ready line, and may reach this process in a later chunk of output.
      const printed = await waitUntil('the development admin notice, to its last line', () =>
        /\[start\]\s+kept in\s+/.test(first.output()) ? first.output() : null,
      );
      expect(printed).toMatch(/\[start\]\s+created a development admin/);
      expect(printed).toMatch(/\[start\]\s+username\s+admin\n/);
      expect(printed).toMatch(new RegExp(`\\[start\\]\\s+password\\s+${password}\\n`));
      expect(printed.split(password)).toHaveLength(2);

      const logIn = await graphql<{ logIn: { token: string; user: { roles: string[] } } }>(
        first,
        `mutation { logIn(input: { username: "admin", password: "${password}" }) { token user { roles } } }`,
      );
      expect(logIn.data?.logIn.user.roles).toEqual(['user', 'admin']);
      const issued = await issueCard(first, logIn.data?.logIn.token as string);
      expect(issued.errors, first.output().slice(-4000)).toBeUndefined();
      expect(issued.data?.issueGiftCards.giftCards[0]?.code).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
      expect(await interrupt(first)).toBe(0);

      const second = await start(env);
      try {
        expect(second.output()).not.toContain('created a development admin');
        expect(second.output()).not.toContain(password);
        expect((await readFile(passwordFile, 'utf8')).trim()).toBe(password);
        const again = await graphql<{ logIn: { user: { roles: string[] } } }>(
          second,
          `mutation { logIn(input: { username: "admin", password: "${password}" }) { user { roles } } }`,
        );
        expect(again.data?.logIn.user.roles).toEqual(['user', 'admin']);
      } finally {
        await interrupt(second);
      }
    },
    STACK_TEST_TIMEOUT_MS,
  );

  it(
    'stops the stack with one line naming BOOTSTRAP_ADMIN_PASSWORD and its rule when the password is under 10 characters',
    async () => {
      const env = await newcomerEnv(databases[1] as TestDatabase, { BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: 'short' });
      const failure = await start(env).catch((error: Error) => error);
      expect(failure).toBeInstanceOf(Error);
      const message = (failure as Error).message;
      expect(message).toMatch(
        /\[start\]\s+accounts exited \(code 78\): its configuration is invalid \(BOOTSTRAP_ADMIN_PASSWORD must be at least 10 characters, got 5\); stopping the stack/,
      );
      expect(message).toContain('exited with 1 before it was ready');
      expect(message).not.toContain('short');
    },
    STACK_TEST_TIMEOUT_MS,
  );

  it(
    'takes the database from DATABASE_URL_FILE, as the services do, and starts no embedded PostgreSQL',
    async () => {
      const { DATABASE_URL: url, ...env } = await newcomerEnv(databases[2] as TestDatabase);
      const urlFile = join(env.DATA_DIR as string, 'database-url');
      await writeFile(urlFile, `${url}\n`, { mode: 0o600 });
      const stack = await start({ ...env, DATABASE_URL_FILE: urlFile });
      try {
        expect(stack.output()).toContain(`DATABASE_URL comes from ${urlFile} (DATABASE_URL_FILE): the services read it`);
        expect(stack.output()).not.toContain('embedded PostgreSQL');
        const signUp = await graphql<{ signUp: { user: { username: string } } }>(
          stack,
          'mutation { signUp(input: { username: "from_a_file", password: "a-long-enough-password" }) { user { username } } }',
        );
        expect(signUp.data?.signUp.user.username).toBe('from_a_file');
        // The user is in the database the file names.
        const [row] = await (databases[2] as TestDatabase).sql`select username from accounts.users where username = 'from_a_file'`;
        expect(row?.username).toBe('from_a_file');
      } finally {
        await interrupt(stack);
      }
    },
    STACK_TEST_TIMEOUT_MS,
  );

  it(
    'serves on the address HOST names and finds its own services there (127.0.0.2, another loopback address)',
    async () => {
      const env = await newcomerEnv(databases[3] as TestDatabase, { HOST: '127.0.0.2' });
      const stack = await start(env);
      try {
        const url = `http://127.0.0.2:${env.GATEWAY_PORT}`;
        expect(stack.output()).toContain(`GraphQL at ${url}/graphql`);
        // Ready means the gateway found every subgraph at 127.0.0.2, and its signing keys there.
        expect((await fetch(`${url}/health`)).status).toBe(200);
        const signUp = (await (
          await fetch(`${url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: 'mutation { signUp(input: { username: "on_host", password: "a-long-enough-password" }) { token } }' }),
          })
        ).json()) as { data?: { signUp: { token: string } } };
        expect(signUp.data?.signUp.token).toMatch(/^ey/);
        // Nothing of it listens on 127.0.0.1.
        await expect(fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/health`)).rejects.toThrow();
      } finally {
        await interrupt(stack);
      }
    },
    STACK_TEST_TIMEOUT_MS,
  );

  it(
    'stops the stack after START_READY_TIMEOUT_SECONDS when the gateway never becomes ready, saying so, and refuses a STOP_GRACE_SECONDS out of range naming it',
    async () => {
      // A gateway whose signing keys cannot be fetched is never ready (its /health needs them).
      const env = await newcomerEnv(databases[4] as TestDatabase, {
        START_READY_TIMEOUT_SECONDS: '5',
        JWKS_URL: `${await addressNobodyListensOn()}/jwks.json`,
      });
      const failure = await start(env).catch((error: Error) => error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(
        /the gateway did not become healthy at http:\/\/127\.0\.0\.1:\d+\/health within 5 s \(START_READY_TIMEOUT_SECONDS\)/,
      );
      expect((failure as Error).message).toContain('exited with 1 before it was ready');

      const refused = await start({ ...env, STOP_GRACE_SECONDS: '0' }).catch((error: Error) => error);
      expect((refused as Error).message).toContain('Invalid configuration: STOP_GRACE_SECONDS must be whole seconds from 1 to 600, got "0"');
    },
    STACK_TEST_TIMEOUT_MS,
  );

  it('stops with one line naming DATA_DIR and the fix when a file stands where the data folder must go', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'giftpay-first-run-'));
    dataDirs.push(parent);
    const blocker = join(parent, 'not-a-folder');
    await writeFile(blocker, 'a file where the data folder must go\n');
    // No DATABASE_URL: the embedded PostgreSQL, whose data folder would be inside that file.
    const { DATABASE_URL: _none, ...env } = await stackProcessEnv(join(blocker, 'data'), { NODE_ENV: 'development' });
    const failure = await start(env).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    const lines = (failure as Error).message.split('\n').filter((line) => line.includes('could not start the embedded PostgreSQL'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`set DATA_DIR to another folder (now ${join(blocker, 'data')}), or set DATABASE_URL to use your own PostgreSQL`);
    expect(lines[0]).toContain('ENOTDIR');
    expect((failure as Error).message).toContain('exited with 1 before it was ready');
  });
});
