// The wallet's migrations as a service applies them at start, on a database that has never seen
// them: applied again they change nothing, and replicas starting together apply them once.

import { randomBytes } from 'node:crypto';
import { applyMigrations } from '@giftpay/common/db';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { WALLET_MIGRATIONS } from '../src/db/migrate.ts';

const { adminUrl, urlPrefix } = inject('postgres');
const created: string[] = [];

/** An empty database (not the migrated template): the state of a first deployment. */
async function emptyDatabase(): Promise<{ url: string; sql: postgres.Sql }> {
  const name = `migrations_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template template0`);
  } finally {
    await admin.end();
  }
  created.push(name);
  const url = `${urlPrefix}${name}`;
  return { url, sql: postgres(url, { max: 2, onnotice: () => {} }) };
}

afterAll(async () => {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const name of created) await admin.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
});

const MIGRATION_FILES = 3;

/** What the migrations leave behind, to compare one application with another. */
async function schemaState(sql: postgres.Sql) {
  const applied = await sql`select id, hash, created_at::text as created_at from drizzle.__wallet_migrations order by id`;
  const tables = await sql`select table_name from information_schema.tables where table_schema = 'wallet' order by table_name`;
  const triggers = await sql`
    select tgname from pg_trigger where tgrelid = 'wallet.ledger_entries'::regclass and not tgisinternal order by tgname`;
  const functions = await sql`select proname from pg_proc where pronamespace = 'wallet'::regnamespace order by proname`;
  const constraints = await sql`
    select conname from pg_constraint where connamespace = 'wallet'::regnamespace order by conname`;
  return {
    applied: applied.map((row) => ({ ...row })),
    tables: tables.map((row) => row.table_name as string),
    triggers: triggers.map((row) => row.tgname as string),
    functions: functions.map((row) => row.proname as string),
    constraints: constraints.map((row) => row.conname as string),
  };
}

describe('the wallet migrations', () => {
  it('apply on an empty database, and applied again change nothing and keep the data', async () => {
    const { url, sql } = await emptyDatabase();
    try {
      await applyMigrations(url, WALLET_MIGRATIONS);
      const once = await schemaState(sql);
      expect(once.applied).toHaveLength(MIGRATION_FILES);
      expect(once.tables).toEqual(['idempotency_keys', 'ledger_entries', 'wallets']);
      expect(once.triggers).toEqual(['ledger_entries_append_only', 'ledger_entries_no_truncate']);
      expect(once.functions).toEqual(['ledger_entries_refuse_change', 'post_entry']);
      const [wallet] = await sql`insert into wallet.wallets (owner_id, currency_code, balance) values ('owner-1', 'IRR', 5) returning id`;

      await applyMigrations(url, WALLET_MIGRATIONS);
      expect(await schemaState(sql)).toEqual(once);
      expect(await sql`select id, balance::int as balance from wallet.wallets`).toEqual([{ id: wallet?.id, balance: 5 }]);
    } finally {
      await sql.end();
    }
  });

  it('apply once when several replicas start at the same moment, and every replica starts', async () => {
    const { url, sql } = await emptyDatabase();
    try {
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => applyMigrations(url, WALLET_MIGRATIONS)));
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      const state = await schemaState(sql);
      expect(state.applied).toHaveLength(MIGRATION_FILES);
      expect(new Set(state.applied.map((row) => row.hash)).size).toBe(MIGRATION_FILES);
      expect(state.tables).toEqual(['idempotency_keys', 'ledger_entries', 'wallets']);
      expect(state.triggers).toEqual(['ledger_entries_append_only', 'ledger_entries_no_truncate']);
      // The result is a working ledger: an entry can be written, and the append-only rule holds.
      const [wallet] = await sql`insert into wallet.wallets (owner_id, currency_code, balance) values ('owner-2', 'IRR', 5) returning id`;
      await sql`insert into wallet.ledger_entries (wallet_id, kind, amount, balance_after, currency_code, description, operation)
        values (${wallet?.id}, 'CREDIT', 5, 5, 'IRR', 'opening', 'credit')`;
      await expect(sql`delete from wallet.ledger_entries where wallet_id = ${wallet?.id}`).rejects.toThrow(/append-only/);
    } finally {
      await sql.end();
    }
  });
});
