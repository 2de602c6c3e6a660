// Applies the gift-cards subgraph's committed drizzle-kit migrations.

import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@giftpay/common/db';

export const GIFT_CARDS_MIGRATIONS = { migrationsFolder: fileURLToPath(new URL('../../drizzle', import.meta.url)), migrationsTable: '__gift_cards_migrations' };

export function migrateGiftCards(databaseUrl: string): Promise<void> {
  return applyMigrations(databaseUrl, GIFT_CARDS_MIGRATIONS);
}
