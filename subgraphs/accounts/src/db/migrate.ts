// Applies the accounts subgraph's committed drizzle-kit migrations.

import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@giftpay/common/db';

export const ACCOUNTS_MIGRATIONS = { migrationsFolder: fileURLToPath(new URL('../../drizzle', import.meta.url)), migrationsTable: '__accounts_migrations' };

export function migrateAccounts(databaseUrl: string): Promise<void> {
  return applyMigrations(databaseUrl, ACCOUNTS_MIGRATIONS);
}
