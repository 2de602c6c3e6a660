// Applies the wallet subgraph's committed drizzle-kit migrations.

import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@giftpay/common/db';

export const WALLET_MIGRATIONS = { migrationsFolder: fileURLToPath(new URL('../../drizzle', import.meta.url)), migrationsTable: '__wallet_migrations' };

export function migrateWallet(databaseUrl: string): Promise<void> {
  return applyMigrations(databaseUrl, WALLET_MIGRATIONS);
}
