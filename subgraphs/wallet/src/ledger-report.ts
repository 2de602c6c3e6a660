// The books as `wallet.ledger_report()` (drizzle/0003_double_entry.sql) gives them, read the
// same way by the wallet service (Query.ledgerReport, the gauges) and by `giftpay reconcile`.
// No imports: the CLI loads it without the service.

/** One currency of `wallet.ledger_report()` (drizzle/0003_double_entry.sql), amounts in minor units. */
export interface CurrencyBooks {
  readonly currencyCode: string;
  readonly walletsTotal: bigint;
  readonly giftCardsRedeemed: bigint;
  readonly spent: bigint;
  readonly adjustments: bigint;
  /** walletsTotal - giftCardsRedeemed + spent - adjustments: the sum of every account's balance. */
  readonly imbalance: bigint;
  /** Wallets whose stored balance is not the sum of their entries. */
  readonly walletsOffTheirEntries: number;
  /** Wallet entries (other than transfers) with no system entry on the other side, or a wrong one. */
  readonly entriesWithoutOtherSide: number;
}

export interface LedgerReport {
  /** Every currency at zero, every wallet's balance the sum of its entries, every entry with its other side. */
  readonly balanced: boolean;
  readonly currencies: readonly CurrencyBooks[];
}

export interface LedgerReportRow extends Record<string, unknown> {
  currency_code: string;
  wallets_total: string;
  gift_cards_redeemed: string;
  spent: string;
  adjustments: string;
  imbalance: string;
  wallets_off_their_entries: string | number;
  entries_without_other_side: string | number;
}

/** The books from the rows of `wallet.ledger_report()`, amounts exact. */
export function ledgerReportOf(rows: readonly LedgerReportRow[]): LedgerReport {
  const currencies = rows.map((row) => ({
    currencyCode: row.currency_code,
    walletsTotal: BigInt(row.wallets_total),
    giftCardsRedeemed: BigInt(row.gift_cards_redeemed),
    spent: BigInt(row.spent),
    adjustments: BigInt(row.adjustments),
    imbalance: BigInt(row.imbalance),
    walletsOffTheirEntries: Number(row.wallets_off_their_entries),
    entriesWithoutOtherSide: Number(row.entries_without_other_side),
  }));
  const balanced = currencies.every((books) => books.imbalance === 0n && books.walletsOffTheirEntries === 0 && books.entriesWithoutOtherSide === 0);
  return { balanced, currencies };
}

/** The report's SQL, for any client of the wallet's schema. */
export const LEDGER_REPORT_SQL = 'select * from wallet.ledger_report()';
