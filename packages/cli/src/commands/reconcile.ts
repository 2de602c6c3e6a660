// `giftpay reconcile`: the books and the check across services, for an operator. Unlike the
// other commands it reads the database, not the API: the check joins the gift-cards
// service's redemptions with the wallet's entries, which no one service holds. It reads both
// in one read-only, repeatable-read transaction (one snapshot) and changes nothing.

import type { LedgerReportRow } from '@giftpay/wallet/ledger-report';
import { type Command, integerOption, stringOption } from '../command.ts';
import { DatabaseReadError, UsageError } from '../errors.ts';
import { table } from '../terminal.ts';

/** Where `pnpm start` runs its embedded PostgreSQL when DATABASE_URL is unset (scripts/start.ts). */
export function defaultDatabaseUrl(env: NodeJS.ProcessEnv): string {
  const port = env.EMBEDDED_POSTGRES_PORT?.trim() || '5433';
  return `postgres://postgres:postgres@127.0.0.1:${port}/giftpay`;
}

interface MismatchRow {
  redemption_id: string;
  problem: string;
}

interface PendingRow {
  redemption_id: string;
  user_id: string;
  age_seconds: number;
  attempts: number;
  last_error: string | null;
  parked: boolean;
  in_wallet: boolean;
}

/**
 * Every CREDITED redemption has exactly one credit entry (its key `gift-card-redemption:<id>`)
 * on its user's wallet, for its amount and currency; and no credit entry under such a key
 * belongs to a redemption that does not exist. PENDING ones may have theirs already (the
 * wallet credited, gift-cards not told yet): they are listed with their age, not counted.
 */
const MISMATCHES = `
  with credits as (
    select substr(e.idempotency_key, length('gift-card-redemption:') + 1) as redemption_id, e.amount, e.currency_code, w.owner_id
    from wallet.ledger_entries e join wallet.wallets w on w.id = e.wallet_id
    where e.operation = 'credit' and e.idempotency_key like 'gift-card-redemption:%'
  ), per_redemption as (
    select r.id::text as redemption_id, r.status, r.amount, r.currency_code, r.user_id,
      count(c.redemption_id) as credits,
      count(*) filter (where c.amount = r.amount and c.currency_code = r.currency_code and c.owner_id = r.user_id) as exact
    from gift_cards.redemptions r left join credits c on c.redemption_id = r.id::text
    group by r.id
  )
  select redemption_id, case
      when status = 'CREDITED' and credits = 0 then 'CREDITED, but no credit entry in the wallet'
      when credits > 1 then credits || ' credit entries for one redemption'
      when credits = 1 and exact = 0 then 'its credit entry differs in amount, currency or user'
    end as problem
  from per_redemption
  where (status = 'CREDITED' and credits = 0) or credits > 1 or (credits = 1 and exact = 0)
  union all
  select c.redemption_id, 'a credit entry for a redemption that does not exist'
  from credits c where not exists (select 1 from gift_cards.redemptions r where r.id::text = c.redemption_id)
  order by 1`;

const PENDING = `
  select r.id::text as redemption_id, r.user_id, extract(epoch from now() - r.created_at)::int as age_seconds, r.attempts,
    r.last_error, r.parked_at is not null as parked,
    exists (select 1 from wallet.ledger_entries e where e.idempotency_key = 'gift-card-redemption:' || r.id::text) as in_wallet
  from gift_cards.redemptions r where r.status = 'PENDING' order by r.created_at`;

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the database URL';
  }
}

/** What went wrong reading, in words an operator can act on (no stack trace). */
function readError(error: unknown, url: string): DatabaseReadError {
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === '42883' || code === '3F000' || code === '42P01') {
    return new DatabaseReadError(`${shown(url)} has no GiftPay ledger (${message}): start the services on it once, they apply their migrations.`);
  }
  return new DatabaseReadError(`cannot read ${shown(url)}: ${message}. Set --database-url or DATABASE_URL.`);
}

export const reconcile: Command = {
  words: ['reconcile'],
  summary: 'check that the books balance and that every credited redemption was credited once',
  synopsis: 'reconcile [--database-url URL] [--pending N]',
  details: `  --database-url URL  the PostgreSQL holding the wallet and gift_cards schemas (env DATABASE_URL;
                      default: the embedded one of \`pnpm start\`, 127.0.0.1:EMBEDDED_POSTGRES_PORT or 5433)
  --pending N         list at most N of the PENDING redemptions, oldest first (default 20)

Reads the database, not the API (the check joins two services' tables), in one read-only
snapshot, and changes nothing. Prints the books per currency (the same figures as the API's
ledgerReport), then every CREDITED redemption without exactly one matching credit entry, then
the PENDING redemptions with their age. Exit 0 when the books balance and nothing is amiss,
1 otherwise (PENDING ones alone are not amiss: the relay delivers them).`,
  options: { 'database-url': { type: 'string' }, pending: { type: 'string' } },
  operands: { min: 0, max: 0, names: '' },
  async run({ values, env }) {
    const url = stringOption(values, 'database-url') ?? (env.DATABASE_URL?.trim() || defaultDatabaseUrl(env));
    if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`--database-url must be a postgres:// URL, got "${url}".`);
    const listed = integerOption(values, 'pending', 20, 0);
    // Loaded here: the other commands never need the driver or the money rules.
    const [{ default: postgres }, { minorToDecimal }, { LEDGER_REPORT_SQL, ledgerReportOf }] = await Promise.all([
      import('postgres'),
      import('@giftpay/common/money'),
      import('@giftpay/wallet/ledger-report'),
    ]);
    const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      const [rows, mismatches, pending] = await sql
        .begin(
          'isolation level repeatable read read only',
          async (tx): Promise<[LedgerReportRow[], MismatchRow[], PendingRow[]]> => [
            await tx.unsafe<LedgerReportRow[]>(LEDGER_REPORT_SQL),
            await tx.unsafe<MismatchRow[]>(MISMATCHES),
            await tx.unsafe<PendingRow[]>(PENDING),
          ],
        )
        .catch((error: unknown) => {
          throw readError(error, url);
        });
      const report = ledgerReportOf(rows);
      const money = (minor: bigint, currency: string) => `${minorToDecimal(minor, currency)} ${currency}`;
      console.log('The books (wallets - gift cards redeemed + spent - adjustments = imbalance):');
      console.log(
        report.currencies.length === 0
          ? '  no money has moved yet'
          : table(
              ['currency', 'wallets', 'gift_cards_redeemed', 'spent', 'adjustments', 'imbalance', 'wallets_off', 'one_sided'],
              report.currencies.map((books) => [
                books.currencyCode,
                money(books.walletsTotal, books.currencyCode),
                money(books.giftCardsRedeemed, books.currencyCode),
                money(books.spent, books.currencyCode),
                money(books.adjustments, books.currencyCode),
                money(books.imbalance, books.currencyCode),
                String(books.walletsOffTheirEntries),
                String(books.entriesWithoutOtherSide),
              ]),
            ),
      );
      const unbalanced = report.currencies.filter((books) => books.imbalance !== 0n || books.walletsOffTheirEntries > 0 || books.entriesWithoutOtherSide > 0);
      console.log(
        report.balanced
          ? 'Balanced: every currency at 0, every wallet the sum of its entries, every entry with its other side.'
          : `NOT BALANCED in ${unbalanced.map((books) => books.currencyCode).join(', ')}.`,
      );
      console.log('');
      if (mismatches.length === 0) console.log('Redemptions: every CREDITED redemption has exactly one matching credit entry.');
      else {
        console.log(`Redemptions: ${mismatches.length} amiss:`);
        console.log(
          table(
            ['redemption', 'problem'],
            mismatches.map((row) => [row.redemption_id, row.problem]),
          ),
        );
      }
      console.log('');
      const parked = pending.filter((row) => row.parked).length;
      console.log(
        `PENDING: ${pending.length} (${parked} parked; ${pending.filter((row) => row.in_wallet).length} already in the wallet, not yet marked)${pending.length > 0 && listed > 0 ? ', oldest first:' : ''}`,
      );
      if (pending.length > 0 && listed > 0) {
        console.log(
          table(
            ['redemption', 'user', 'age', 'attempts', 'state', 'last_error'],
            pending
              .slice(0, listed)
              .map((row) => [
                row.redemption_id,
                row.user_id,
                `${row.age_seconds} s`,
                String(row.attempts),
                row.parked ? 'parked' : row.in_wallet ? 'in wallet' : 'owed',
                row.last_error ?? '',
              ]),
          ),
        );
      }
      return report.balanced && mismatches.length === 0 ? 0 : 1;
    } finally {
      await sql.end({ timeout: 5 });
    }
  },
};
