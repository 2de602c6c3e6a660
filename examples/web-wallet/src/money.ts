// Money as the API gives it: a Decimal string and a currency. Shown as received, never
// converted to a float; a form's amount is sent as the string typed.

export interface Money {
  readonly amount: string;
  readonly currencyCode: string;
}

/** "1234567.5" IRR as "1,234,567.5 IRR": groups inserted into the string, no arithmetic. */
export function formatMoney(money: Money): string {
  const [whole = '', fraction] = money.amount.split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  const digits = whole.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${digits}${fraction === undefined ? '' : `.${fraction}`} ${money.currencyCode}`;
}

/** A positive decimal as the API accepts it, e.g. 1000000 or 12.50. */
export const DECIMAL_PATTERN = '[0-9]+(\\.[0-9]+)?';
