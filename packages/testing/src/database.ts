// A fresh, migrated database for one test file, dropped when the file is done.

import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** A small pool for assertions straight against the tables. */
  readonly sql: postgres.Sql;
}

/**
 * A database of the test run's server, dropped when the file is done: a copy of the migrated
 * template (`fromTemplate`, the default) or an empty one.
 */
export async function createDatabase(options: { fromTemplate?: boolean } = {}): Promise<TestDatabase> {
  const { adminUrl, templateDatabase, urlPrefix } = inject('postgres');
  const fromTemplate = options.fromTemplate ?? true;
  const name = `test_${fromTemplate ? '' : 'empty_'}${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"${fromTemplate ? ` template "${templateDatabase}"` : ''}`);
  } finally {
    await admin.end();
  }
  const url = `${urlPrefix}${name}`;
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  afterAll(async () => {
    await sql.end();
    const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await dropper.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await dropper.end();
    }
  });
  return { url, name, sql };
}

/** A fresh, migrated database for one test file. */
export function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase();
}
