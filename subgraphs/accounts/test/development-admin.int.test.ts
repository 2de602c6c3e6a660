// A first `pnpm start` can issue gift cards: outside production, with no BOOTSTRAP_ADMIN_* and
// no admin yet, accounts creates one named `admin` with a password generated into
// DATA_DIR/secrets. Never in production, never a second time, never over someone's account.
// Each test has a database and a DATA_DIR of its own: "no admin exists" is about the whole table.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@giftpay/common';
import { captureLogs, createTestDatabase, type TestDatabase, testEnv } from '@giftpay/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createServer } from '../src/server.ts';

const databases: TestDatabase[] = [];
let dataDir: string;

beforeAll(async () => {
  for (let index = 0; index < 4; index += 1) databases.push(await createTestDatabase());
});

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'giftpay-dev-admin-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** The test environment without a bootstrap admin, in the given mode, with this test's DATA_DIR. */
function envWithoutAdmin(database: TestDatabase, mode: 'development' | 'production') {
  return testEnv(database.url, { NODE_ENV: mode, DATA_DIR: dataDir, BOOTSTRAP_ADMIN_USERNAME: '', BOOTSTRAP_ADMIN_PASSWORD: '' });
}

/** Starts accounts once (as a start of the service would), returning what it logged. */
async function startAccounts(env: ReturnType<typeof testEnv>) {
  const logger = createLogger('accounts', 'silent');
  const logs = captureLogs([logger], 'info');
  const server = await createServer({ config: loadConfig(env), logger });
  return { server, logs };
}

async function rolesOf(database: TestDatabase, username: string): Promise<string[] | undefined> {
  const [row] = await database.sql<{ roles: string[] }[]>`select roles from accounts.users where username_key = ${username.toLowerCase()}`;
  return row?.roles;
}

describe('the development admin', () => {
  it('is created once with a generated password kept in DATA_DIR/secrets (mode 600), which logs in as an admin', async () => {
    const database = databases[0] as TestDatabase;
    const env = envWithoutAdmin(database, 'development');
    const passwordFile = join(dataDir, 'secrets', 'admin-password');

    const first = await startAccounts(env);
    try {
      const password = readFileSync(passwordFile, 'utf8').trim();
      expect(password.length).toBeGreaterThanOrEqual(20);
      expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
      const created = first.logs.lines().filter((line) => line.event === 'development-admin-created');
      expect(created).toHaveLength(1);
      expect(created[0]).toMatchObject({ username: 'admin', passwordFile });
      // The log names the file, never the password itself.
      expect(first.logs.text()).not.toContain(password);
      const session = await first.server.accounts.logIn({ username: 'admin', password });
      expect(session.user.roles).toEqual(['user', 'admin']);
    } finally {
      first.logs.stop();
      await first.server.close();
    }

    const before = readFileSync(passwordFile, 'utf8');
    const again = await startAccounts(env);
    try {
      expect(again.logs.lines().filter((line) => line.event === 'development-admin-created')).toHaveLength(0);
      expect(readFileSync(passwordFile, 'utf8')).toBe(before);
      await expect(again.server.accounts.logIn({ username: 'admin', password: before.trim() })).resolves.toMatchObject({ user: { username: 'admin' } });
    } finally {
      again.logs.stop();
      await again.server.close();
    }
  });

  it('is never created in production, and no password file is written', async () => {
    const database = databases[1] as TestDatabase;
    const { server, logs } = await startAccounts(envWithoutAdmin(database, 'production'));
    try {
      expect(await rolesOf(database, 'admin')).toBeUndefined();
      expect(() => statSync(join(dataDir, 'secrets', 'admin-password'))).toThrow();
      expect(logs.lines().filter((line) => line.event === 'development-admin-created')).toHaveLength(0);
    } finally {
      logs.stop();
      await server.close();
    }
  });

  it('is not created when an account is already an admin', async () => {
    const database = databases[2] as TestDatabase;
    const bootstrapped = await startAccounts(
      testEnv(database.url, { NODE_ENV: 'development', DATA_DIR: dataDir, BOOTSTRAP_ADMIN_USERNAME: 'chief', BOOTSTRAP_ADMIN_PASSWORD: 'chief-password-1' }),
    );
    bootstrapped.logs.stop();
    await bootstrapped.server.close();

    const { server, logs } = await startAccounts(envWithoutAdmin(database, 'development'));
    try {
      expect(await rolesOf(database, 'chief')).toEqual(['user', 'admin']);
      expect(await rolesOf(database, 'admin')).toBeUndefined();
      expect(() => statSync(join(dataDir, 'secrets', 'admin-password'))).toThrow();
    } finally {
      logs.stop();
      await server.close();
    }
  });

  it('leaves an ordinary account named admin as it is, and says how to get an admin', async () => {
    const database = databases[3] as TestDatabase;
    const first = await startAccounts(
      testEnv(database.url, { NODE_ENV: 'production', DATA_DIR: dataDir, BOOTSTRAP_ADMIN_USERNAME: '', BOOTSTRAP_ADMIN_PASSWORD: '' }),
    );
    await first.server.accounts.signUp({ username: 'admin', password: 'somebody-elses-password' });
    first.logs.stop();
    await first.server.close();

    const { server, logs } = await startAccounts(envWithoutAdmin(database, 'development'));
    try {
      expect(await rolesOf(database, 'admin')).toEqual(['user']);
      await expect(server.accounts.logIn({ username: 'admin', password: 'somebody-elses-password' })).resolves.toMatchObject({ user: { roles: ['user'] } });
      expect(logs.text()).toContain('set BOOTSTRAP_ADMIN_USERNAME and BOOTSTRAP_ADMIN_PASSWORD to have an admin');
    } finally {
      logs.stop();
      await server.close();
    }
  });
});
