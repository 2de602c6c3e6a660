// Set-up that stays out of the figures: users inserted in bulk straight into the accounts
// table, their tokens signed with the stack's own key (no signUp, no password hashing), and
// wallets funded straight in the wallet tables (a balance and the ledger entries that
// explain it, as the ledger's invariant wants).

import { randomUUID } from 'node:crypto';
import type { Role } from '@giftpay/common';
import type postgres from 'postgres';
import type { BenchStack } from './stack.ts';

export interface BenchUser {
  readonly id: string;
  readonly username: string;
  readonly token: string;
}

/**
 * Splits a card no one has claimed yet over `shards` counter rows (at most one a slot), as gift-cards does at issue
 * under GIFT_CARD_SLOT_SHARDS (the same SQL function), so one stack can run every K.
 */
export async function splitSlots(sql: postgres.Sql, cardId: string, shards: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`delete from gift_cards.card_slot_shards where card_id = ${cardId}`;
    const updated =
      await tx`update gift_cards.gift_cards set slot_shards = least(${shards}, usage_limit) where id = ${cardId} and redemption_count = 0 returning id`;
    if (updated.length !== 1) throw new Error(`card ${cardId} is missing or already claimed: it cannot be split`);
    await tx`select gift_cards.split_card_slots(array[${cardId}]::uuid[])`;
  });
}

/** No password verifies against this: bench users never log in. */
const NO_PASSWORD = '!bench-user-without-password';
const CHUNK = 5000;

/** Inserts `count` users named `<prefix>_<n>` and signs a token for each. */
export async function createUsers(stack: BenchStack, prefix: string, count: number, roles: readonly Role[] = ['user']): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  for (let start = 0; start < count; start += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, count - start) }, () => randomUUID());
    const names = ids.map((_, index) => `${prefix}_${start + index}`);
    await stack.sql`
      insert into accounts.users (id, username, username_key, password_hash, roles)
      select u.id, u.name, lower(u.name), ${NO_PASSWORD}, array(select jsonb_array_elements_text(${stack.sql.json([...roles])}))
      from jsonb_to_recordset(${stack.sql.json(ids.map((id, index) => ({ id, name: names[index] as string })))}) as u(id uuid, name text)`;
    for (const [index, id] of ids.entries()) {
      const username = names[index] as string;
      users.push({ id, username, token: await stack.signer.sign({ userId: id, username, roles }) });
    }
  }
  return users;
}

/**
 * Gives each user a wallet holding `entries` credits of `amount` IRR (minor units), the newest
 * last, so a read of the first ten transactions finds a full page.
 */
export async function fundWallets(sql: postgres.Sql, users: readonly BenchUser[], amount: number, entries: number): Promise<void> {
  for (let start = 0; start < users.length; start += CHUNK) {
    const owners = users.slice(start, start + CHUNK).map((user) => user.id);
    await sql`
      with funded as (
        insert into wallet.wallets (owner_id, currency_code, balance)
        select owner, 'IRR', ${amount * entries} from jsonb_array_elements_text(${sql.json(owners)}) as owner
        returning id
      )
      insert into wallet.ledger_entries (wallet_id, kind, amount, balance_after, currency_code, description, operation, idempotency_key)
      select funded.id, 'CREDIT', ${amount}, ${amount} * step, 'IRR', 'Bench funding', 'credit', 'bench-funding:' || funded.id || ':' || step
      from funded, generate_series(1, ${entries}) as step
      order by funded.id, step`;
  }
}
