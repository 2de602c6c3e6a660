// The wallet's migrations as a service applies them at start, on a database that has never seen
// them: applied again they change nothing, and replicas starting together apply them once.

import { randomBytes } from 'node:crypto';
import { applyMigrations } from '@giftpay/common/db';
import { migrationsFolderUpTo } from '@giftpay/testing';
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

const MIGRATION_FILES = 6;

/** What the migrations leave behind, to compare one application with another. */
async function schemaState(sql: postgres.Sql) {
  const applied = await sql`select id, hash, created_at::text as created_at from drizzle.__wallet_migrations order by id`;
  const tables = await sql`select table_name from information_schema.tables where table_schema = 'wallet' order by table_name`;
  const triggers = await sql`
    select tgname from pg_trigger where tgrelid in ('wallet.ledger_entries'::regclass, 'wallet.system_entries'::regclass, 'wallet.adjustments'::regclass) and not tgisinternal order by tgname`;
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
      expect(once.tables).toEqual(['adjustments', 'idempotency_keys', 'ledger_entries', 'system_entries', 'wallets']);
      expect(once.triggers).toEqual([
        'adjustments_append_only',
        'adjustments_no_truncate',
        'ledger_entries_append_only',
        'ledger_entries_no_truncate',
        'system_entries_append_only',
        'system_entries_no_truncate',
      ]);
      expect(once.functions).toEqual(['adjustments_refuse_change', 'ledger_entries_refuse_change', 'ledger_report', 'post_entry', 'system_account_of']);
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
      expect(state.tables).toEqual(['adjustments', 'idempotency_keys', 'ledger_entries', 'system_entries', 'wallets']);
      expect(state.triggers).toEqual([
        'adjustments_append_only',
        'adjustments_no_truncate',
        'ledger_entries_append_only',
        'ledger_entries_no_truncate',
        'system_entries_append_only',
        'system_entries_no_truncate',
      ]);
      // The result is a working ledger: an entry can be written, and the append-only rule holds.
      const [wallet] = await sql`insert into wallet.wallets (owner_id, currency_code, balance) values ('owner-2', 'IRR', 5) returning id`;
      await sql`insert into wallet.ledger_entries (wallet_id, kind, amount, balance_after, currency_code, description, operation)
        values (${wallet?.id}, 'CREDIT', 5, 5, 'IRR', 'opening', 'credit')`;
      await expect(sql`delete from wallet.ledger_entries where wallet_id = ${wallet?.id}`).rejects.toThrow(/append-only/);
    } finally {
      await sql.end();
    }
  });

  it('post the other side of the history already there when double entry arrives, and the books then balance', async () => {
    const { url, sql } = await emptyDatabase();
    // The migrations as they were before double entry (the later ones came after it, and
    // drizzle applies none older than the newest applied).
    const before = await migrationsFolderUpTo(WALLET_MIGRATIONS.migrationsFolder, '0002_post_entry');
    try {
      await applyMigrations(url, { ...WALLET_MIGRATIONS, migrationsFolder: before });
      const post = (owner: string, key: string, kind: string, amount: number, operation: string) =>
        sql`select outcome from wallet.post_entry(${`user:${owner}`}, ${key}, ${key}, ${owner}, 'IRR', ${kind}, ${amount}, 'IRR', 'history', ${operation}, 1000000000)`;
      // A history of one-sided entries: two credits from gift cards, a spend, and a transfer written as the service wrote it.
      await post('alice', 'k1', 'CREDIT', 700, 'credit');
      await post('bob', 'k2', 'CREDIT', 300, 'credit');
      await post('alice', 'k3', 'DEBIT', 200, 'spend');
      const [alice] = await sql`update wallet.wallets set balance = balance - 100 where owner_id = 'alice' returning id, balance`;
      const [bob] = await sql`update wallet.wallets set balance = balance + 100 where owner_id = 'bob' returning id, balance`;
      await sql`insert into wallet.ledger_entries (wallet_id, kind, amount, balance_after, currency_code, description, operation, counterparty_wallet_id)
        values (${alice?.id}, 'DEBIT', 100, ${alice?.balance}, 'IRR', 'Transfer to bob', 'transfer', ${bob?.id}),
               (${bob?.id}, 'CREDIT', 100, ${bob?.balance}, 'IRR', 'Transfer from alice', 'transfer', ${alice?.id})`;

      await applyMigrations(url, WALLET_MIGRATIONS);
      const sides = await sql`select e.operation, e.kind, e.amount::int as wallet_amount, s.account, s.amount::int as account_amount
        from wallet.ledger_entries e left join wallet.system_entries s on s.wallet_entry_id = e.id order by e.seq`;
      expect(sides.map((row) => ({ ...row }))).toEqual([
        { operation: 'credit', kind: 'CREDIT', wallet_amount: 700, account: 'GIFT_CARDS', account_amount: -700 },
        { operation: 'credit', kind: 'CREDIT', wallet_amount: 300, account: 'GIFT_CARDS', account_amount: -300 },
        { operation: 'spend', kind: 'DEBIT', wallet_amount: 200, account: 'SPENDING', account_amount: 200 },
        { operation: 'transfer', kind: 'DEBIT', wallet_amount: 100, account: null, account_amount: null },
        { operation: 'transfer', kind: 'CREDIT', wallet_amount: 100, account: null, account_amount: null },
      ]);
      expect((await sql`select * from wallet.ledger_report()`).map((row) => ({ ...row }))).toEqual([
        {
          currency_code: 'IRR',
          wallets_total: '800',
          gift_cards_redeemed: '1000',
          spent: '200',
          adjustments: '0',
          imbalance: '0',
          wallets_off_their_entries: '0',
          entries_without_other_side: '0',
        },
      ]);
      // From now on every entry is posted with its other side.
      await post('bob', 'k4', 'DEBIT', 50, 'spend');
      expect((await sql`select imbalance, entries_without_other_side::int as missing from wallet.ledger_report()`).map((row) => ({ ...row }))).toEqual([
        { imbalance: '0', missing: 0 },
      ]);
    } finally {
      await sql.end();
    }
  });

  it('put the adjustments made before the audit log in it, by an admin no one recorded, and keep it append-only', async () => {
    const { url, sql } = await emptyDatabase();
    const before = await migrationsFolderUpTo(WALLET_MIGRATIONS.migrationsFolder, '0003_double_entry');
    try {
      await applyMigrations(url, { ...WALLET_MIGRATIONS, migrationsFolder: before });
      const [adjusted] = await sql`
        select entry_id from wallet.post_entry('adjustment', 'k1', 'k1', 'bob', 'IRR', 'CREDIT', 5, 'IRR', 'goodwill', 'adjustment', 1000000000)`;
      await sql`select entry_id from wallet.post_entry('user:bob', 'k2', 'k2', 'bob', 'IRR', 'DEBIT', 2, 'IRR', 'coffee', 'spend', 1000000000)`;

      await applyMigrations(url, WALLET_MIGRATIONS);
      expect((await sql`select wallet_entry_id, actor_id from wallet.adjustments`).map((row) => ({ ...row }))).toEqual([
        { wallet_entry_id: adjusted?.entry_id, actor_id: null },
      ]);
      await expect(sql`update wallet.adjustments set actor_id = 'someone'`).rejects.toThrow(/append-only/);
      await expect(sql`delete from wallet.adjustments`).rejects.toThrow(/append-only/);
      await expect(sql`truncate wallet.adjustments`).rejects.toThrow(/append-only/);
    } finally {
      await sql.end();
    }
  });
});
