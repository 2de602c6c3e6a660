// Vitest global setup for integration and end-to-end tests: one embedded PostgreSQL for the
// whole run, with a template database that has every subgraph's migrations applied, so each
// test file can get a fresh database in milliseconds (CREATE DATABASE … TEMPLATE).

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCOUNTS_MIGRATIONS } from '@giftpay/accounts/migrate';
import { applyMigrations } from '@giftpay/common/db';
import { EmbeddedPostgresError, freePort, type RunningPostgres, startEmbeddedPostgres } from '@giftpay/embedded-db';
import { GIFT_CARDS_MIGRATIONS } from '@giftpay/gift-cards/migrate';
import { WALLET_MIGRATIONS } from '@giftpay/wallet/migrate';
import type { TestProject } from 'vitest/node';
import { warmCompileCache } from './compile-cache.ts';

export const TEMPLATE_DATABASE = 'giftpay_template';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { adminUrl: string; templateDatabase: string; urlPrefix: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // In the system temporary folder, open to the postgres user that PostgreSQL runs as under
  // root; removed after the run, and at once when the server cannot start.
  const dir = await mkdtemp(join(tmpdir(), 'giftpay-test-'));
  // In a child process, while PostgreSQL starts.
  const warming = warmCompileCache();
  let server: RunningPostgres | undefined;
  try {
    await chmod(dir, 0o755);
    const port = await freePort();
    server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port, persistent: false, ephemeralTuning: true, maxConnections: 400 });
    await server.ensureDatabase(TEMPLATE_DATABASE);
    const templateUrl = server.urlFor(TEMPLATE_DATABASE);
    for (const migrations of [ACCOUNTS_MIGRATIONS, WALLET_MIGRATIONS, GIFT_CARDS_MIGRATIONS]) await applyMigrations(templateUrl, migrations);
  } catch (error) {
    await server?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    if (!(error instanceof EmbeddedPostgresError)) throw error;
    // One line that says what to do: a stack trace into this file would only hide it.
    const line = `could not start the embedded PostgreSQL for the tests: ${error.message}`;
    throw Object.assign(new Error(line), { stack: line });
  }
  await warming;
  const running = server;
  project.provide('postgres', { adminUrl: running.adminUrl, templateDatabase: TEMPLATE_DATABASE, urlPrefix: running.urlFor('') });
  return async () => {
    await running.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
